"""The data-quality gate, run before drift: a broken upstream must not be learned.

Three failures block a retrain, each a sign that the data broke rather than the world moved:
missing values, values outside a feature's physical range, and a unit change (the median
moved by a whole factor, e.g. incomes sent in $100k instead of $10k).
"""

from dataclasses import dataclass

import numpy as np

from core.features import FEATURES
from core.profile import FloatArray, ReferenceProfile
from core.settings import DriftSettings


@dataclass(frozen=True)
class QualityReport:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _scale_ratio(live_median: float, reference_median: float) -> float:
    """How many times larger (or smaller) the live median is; 1 means the same scale."""
    small = 1e-9
    a, b = abs(live_median) + small, abs(reference_median) + small
    return max(a / b, b / a)


def check(inputs: FloatArray, profile: ReferenceProfile, drift: DriftSettings) -> QualityReport:
    """Every problem of every feature in the window ([rows, 8], FEATURE_NAMES order)."""
    problems: list[str] = []
    for i, feature in enumerate(FEATURES):
        values = inputs[:, i]
        missing = float(np.mean(~np.isfinite(values))) if len(values) else 0.0
        if missing > drift.max_null_share:
            problems.append(
                f"{feature.name}: {missing:.1%} missing (max {drift.max_null_share:.1%})"
            )
        finite = values[np.isfinite(values)]
        if not len(finite):
            continue
        outside = float(np.mean((finite < feature.minimum) | (finite > feature.maximum)))
        if outside > drift.max_out_of_range_share:
            problems.append(
                f"{feature.name}: {outside:.1%} outside [{feature.minimum:g}, {feature.maximum:g}]"
            )
        reference = profile.feature(feature.name).quantiles["0.5"]
        ratio = _scale_ratio(float(np.median(finite)), reference)
        if ratio > drift.max_scale_ratio:
            problems.append(
                f"{feature.name}: median {np.median(finite):.4g} vs reference {reference:.4g} "
                f"({ratio:.0f}x): a unit change upstream?"
            )
    return QualityReport(problems)
