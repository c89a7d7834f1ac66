"""Drift of live columns against a reference profile, as pure functions.

Each column gets two numbers, both from the profile's quantile bins (the profile holds bins
and quantiles, not training rows):
- PSI, the population stability index: how far the live bin shares moved (0.1 small, 0.25
  large), the size of the shift;
- the Kolmogorov-Smirnov statistic on the bin edges (the largest gap between the two
  cumulative shares) and its p-value, taking the reference as a sample of `profile.rows`:
  whether a small window could show that gap by chance.
A column drifts when both say so: PSI above its threshold and the KS p-value below alpha.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import kstwo

from core.features import FEATURE_NAMES
from core.profile import ColumnProfile, FloatArray, ReferenceProfile, bin_proportions

EPSILON = 1e-4
"""Floor of a bin share in PSI: an empty live bin must give a large, finite index."""
PREDICTION = "prediction"


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    psi: float
    ks: float
    p_value: float
    live_mean: float
    reference_mean: float
    drifted: bool


def psi(reference: FloatArray, live: FloatArray) -> float:
    ref, cur = np.clip(reference, EPSILON, None), np.clip(live, EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def ks_on_bins(
    reference: FloatArray, live: FloatArray, n_ref: int, n_live: int
) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample KS test, evaluated at the bin edges."""
    statistic = float(np.max(np.abs(np.cumsum(reference) - np.cumsum(live))))
    effective = max(round(n_ref * n_live / (n_ref + n_live)), 1)
    return statistic, float(kstwo.sf(statistic, effective))


def column_drift(
    column: ColumnProfile, values: FloatArray, n_ref: int, psi_threshold: float, alpha: float
) -> ColumnDrift:
    reference = np.asarray(column.proportions, dtype=np.float64)
    live = bin_proportions(values, column.edges)
    statistic, p_value = ks_on_bins(reference, live, n_ref, len(values))
    score = psi(reference, live)
    return ColumnDrift(
        name=column.name,
        psi=score,
        ks=statistic,
        p_value=p_value,
        live_mean=float(np.mean(values)),
        reference_mean=column.mean,
        drifted=score > psi_threshold and p_value < alpha,
    )


@dataclass(frozen=True)
class DriftResult:
    features: Mapping[str, ColumnDrift]
    prediction: ColumnDrift | None

    @property
    def drifted_features(self) -> list[str]:
        return [name for name, column in self.features.items() if column.drifted]

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_features) or bool(self.prediction and self.prediction.drifted)

    def scores(self) -> dict[str, float]:
        """PSI per column, the prediction included: what the metrics carry."""
        columns = [*self.features.values(), *([self.prediction] if self.prediction else [])]
        return {column.name: column.psi for column in columns}


def compare(
    profile: ReferenceProfile,
    inputs: FloatArray,
    predictions: FloatArray,
    psi_threshold: float,
    alpha: float,
) -> DriftResult:
    """Each feature column of `inputs` ([rows, 8], FEATURE_NAMES order) and the predictions
    against the profile (finite values only: the quality gate has judged the rest)."""

    def judge(column: ColumnProfile, values: FloatArray) -> ColumnDrift:
        finite = values[np.isfinite(values)]
        return column_drift(column, finite, profile.rows, psi_threshold, alpha)

    features = {
        name: judge(profile.feature(name), inputs[:, i]) for i, name in enumerate(FEATURE_NAMES)
    }
    prediction = judge(profile.prediction, predictions) if profile.prediction else None
    return DriftResult(features, prediction)
