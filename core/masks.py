"""Predict with a core.forest.Forest: per feature, a table gives the leaves each tree can still
reach for every interval between its thresholds, so a row costs one comparison against the
sorted thresholds, one lookup per feature and an AND across features, whatever the depth.

Why: scikit-learn predicts tree by tree, with a Python call per tree (~1 ms for one row of 800
trees); a level-by-level numpy walk took 0.2 ms. The tables take ~25 us for one row and, in
chunks, beat scikit-learn's compiled loop on 1,000 rows too, so serving needs no estimator.
Memory: features x (thresholds + 2) x trees x 8 bytes (18 x 257 x 800: 30 MB).
"""

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core import geography
from core.forest import Forest, Matrix, booster_of

ALL: Final = np.uint64(2**64 - 1)
CHUNK: Final = 16
"""Rows evaluated together: (rows, features, trees) uint64 temporaries of ~2 MB stay in cache
(1,000 rows, one core: 31 ms in chunks of 16 or 32, 53 ms in chunks of 64, 45 ms for
scikit-learn's own predict)."""
TOLERANCE: Final = 1e-9


@dataclass(frozen=True)
class Tables:
    thresholds: Matrix
    """(features, distinct thresholds) ascending, padded with +inf."""
    reach: npt.NDArray[np.uint64]
    """(features, thresholds + 2, trees): leaves still reachable when k of the feature's
    thresholds lie below the value (index k), or when the value is missing (the last)."""
    leaves: Matrix
    baseline: float
    transform: str


def _feature_table(
    forest: Forest, at: npt.NDArray[np.bool_], width: int
) -> tuple[Matrix, npt.NDArray[np.uint64]]:
    """One feature's sorted thresholds and reach rows (`at`: its split nodes)."""
    trees = len(forest.leaves)
    distinct, rank = np.unique(forest.threshold[at], return_inverse=True)
    cleared = ~forest.mask[at]
    reach = np.full((width + 2, trees), ALL)
    row = np.full(trees, ALL)
    for k in range(len(distinct)):  # going right at every split whose threshold is below
        mine = rank == k
        np.bitwise_and.at(row, forest.tree[at][mine], cleared[mine])
        reach[k + 1] = row
    missing = np.full(trees, ALL)
    right = ~forest.missing_left[at]
    np.bitwise_and.at(missing, forest.tree[at][right], cleared[right])
    reach[width + 1] = missing
    padded = np.full(width, np.inf)
    padded[: len(distinct)] = distinct
    return padded, reach


def tables(forest: Forest) -> Tables:
    features = range(forest.width)
    width = max(1, *(len(np.unique(forest.threshold[forest.feature == f])) for f in features))
    built = [_feature_table(forest, forest.feature == f, width) for f in features]
    return Tables(
        thresholds=np.stack([b[0] for b in built]),
        reach=np.stack([b[1] for b in built]),
        leaves=forest.leaves,
        baseline=forest.baseline,
        transform=forest.transform,
    )


def _chunk(t: Tables, x: Matrix) -> Matrix:
    below = (t.thresholds[None, :, :] < x[:, :, None]).sum(axis=2)
    below[np.isnan(x)] = t.reach.shape[1] - 1
    alive = np.bitwise_and.reduce(t.reach[np.arange(x.shape[1]), below], axis=1)
    lowest = alive & (~alive + np.uint64(1))  # the leftmost reachable leaf of each tree
    leaf = np.log2(lowest.astype(np.float64)).astype(np.intp)
    values: Matrix = t.baseline + t.leaves[np.arange(len(t.leaves)), leaf].sum(axis=1)
    return values


def predict(t: Tables, matrix: Matrix) -> Matrix:
    """Predictions for (rows, 8) inputs in feature order."""
    x = geography.derive(matrix) if t.transform == "geography" else matrix
    if len(x) <= CHUNK:
        return _chunk(t, x)
    return np.concatenate([_chunk(t, x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)])


def probe_rows(forest: Forest, rows: int = 2_000, seed: int = 0) -> Matrix:
    """Rows (in the trees' columns) whose values are split thresholds, or the next float above
    one: both sides of real splits, where a `<` written for a `<=` would show."""
    rng = np.random.default_rng(seed)
    columns = []
    for f in range(forest.width):
        points = np.unique(forest.threshold[(forest.feature == f) & np.isfinite(forest.threshold)])
        points = (
            np.concatenate([points, np.nextafter(points, np.inf)]) if len(points) else np.zeros(1)
        )
        columns.append(rng.choice(points, rows))
    return np.column_stack(columns)


def gap(t: Tables, rows: Matrix, expected: Matrix) -> float:
    """The largest absolute difference from `expected` (inf if any prediction is not finite)."""
    got = predict(t, rows)
    return float(np.max(np.abs(got - expected), initial=0.0)) if np.isfinite(got).all() else np.inf


def trees_only(t: Tables) -> Tables:
    """The same tables fed the trees' own columns (no transform): for probe rows."""
    return Tables(t.thresholds, t.reach, t.leaves, t.baseline, "")


def verify(estimator: Any, forest: Forest, t: Tables) -> float:
    """The largest difference from the estimator: the trees on probe rows of their own columns,
    the whole chain (transform included) on the rows the forest carries."""
    probes = probe_rows(forest)
    trees = gap(trees_only(t), probes, booster_of(estimator).predict(probes))
    return max(trees, gap(t, forest.check_rows, forest.check_predictions))


def checked(estimator: Any, forest: Forest) -> tuple[Tables, float]:
    """The forest's tables and their largest difference from the estimator (`verify`)."""
    t = tables(forest)
    return t, verify(estimator, forest, t)
