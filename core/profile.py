"""The reference profile: how the training data (and a model's predictions) were distributed.

Training writes it; the drift check and the serving metrics read it. Each column gets quantile
bin edges from the training data with open-ended outer bins, so a live value outside the training
range still lands in a bin (the first or the last) instead of falling off the histogram.
"""

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

FloatArray = npt.NDArray[np.float64]

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class ColumnProfile(BaseModel):
    """One column: `edges` are the inner bin edges; bin i holds edges[i-1] <= x < edges[i],
    with edges[-1] = -inf and edges[len] = +inf, so there are len(edges) + 1 bins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    edges: list[float]
    proportions: list[float]
    mean: float
    std: float
    min: float
    max: float
    quantiles: dict[str, float] = Field(description="quantile level (as text) -> value")


class ReferenceProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int
    features: list[ColumnProfile]
    prediction: ColumnProfile | None = None

    def feature(self, name: str) -> ColumnProfile:
        for column in self.features:
            if column.name == name:
                return column
        raise KeyError(f"no feature {name!r} in the profile")


def quantile_edges(values: FloatArray, bins: int) -> FloatArray:
    """Inner edges at the 1/bins .. (bins-1)/bins quantiles, each an observed value. Ties merge
    and an edge at the minimum goes (a discrete column such as HouseAge may get fewer bins):
    every bin then holds training data, so no reference proportion is zero."""
    levels = np.arange(1, bins) / bins
    edges: FloatArray = np.unique(np.quantile(values, levels, method="higher"))
    inner: FloatArray = edges[edges > values.min()]
    return inner


def bin_counts(values: FloatArray, edges: FloatArray | list[float]) -> npt.NDArray[np.int64]:
    """How many values fall in each of the len(edges) + 1 bins (see ColumnProfile)."""
    edges = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=len(edges) + 1).astype(np.int64)


def bin_proportions(values: FloatArray, edges: FloatArray | list[float]) -> FloatArray:
    counts = bin_counts(values, edges)
    return counts / max(int(counts.sum()), 1)


def profile_column(values: FloatArray, name: str, bins: int) -> ColumnProfile:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: a profile needs at least one value, all finite")
    edges = quantile_edges(values, bins)
    return ColumnProfile(
        name=name,
        edges=edges.tolist(),
        proportions=bin_proportions(values, edges).tolist(),
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values.min()),
        max=float(values.max()),
        quantiles=dict(
            zip(map(str, QUANTILES), np.quantile(values, QUANTILES).tolist(), strict=True)
        ),
    )


def build_profile(matrix: FloatArray, names: tuple[str, ...], bins: int) -> ReferenceProfile:
    """Profile each column of a (rows, len(names)) float64 matrix."""
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise ValueError(f"expected a (rows, {len(names)}) matrix, got shape {matrix.shape}")
    features = [profile_column(matrix[:, i], name, bins) for i, name in enumerate(names)]
    return ReferenceProfile(rows=matrix.shape[0], features=features)


def with_prediction(
    profile: ReferenceProfile, predictions: FloatArray, bins: int
) -> ReferenceProfile:
    """The same profile plus a model's prediction distribution (for prediction drift)."""
    prediction = profile_column(predictions, "prediction", bins)
    return profile.model_copy(update={"prediction": prediction})


def save_profile(profile: ReferenceProfile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile.model_dump_json(indent=2) + "\n")


def load_profile(path: Path) -> ReferenceProfile:
    return ReferenceProfile.model_validate_json(path.read_text())
