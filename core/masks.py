"""Predict with a core.forest.Forest: per feature, a table gives the leaves each tree can still
reach for every interval between its thresholds, so a row costs one search of its values among
all thresholds sorted together, one lookup per feature and an AND across features, whatever the
depth.

Why: scikit-learn predicts tree by tree, with a Python call per tree (~1 ms for one row of 800
trees); a level-by-level numpy walk took 0.2 ms. The tables take ~15 us for one row (~20 us
when its table rows are not in cache) and, in chunks, a third of scikit-learn's compiled loop's
time on 1,000 rows, so serving needs no estimator. Bound: a row reads features x trees words
(18 x 800 x 8 bytes: 115 kB), ~5 us to gather and AND, and ~12 numpy calls of ~0.5-1 us.
Memory: (thresholds + 2 per feature) x trees x 8 bytes (4,100 x 800: 26 MB).
"""

from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core import geography
from core.forest import MAX_LEAVES, Forest, Matrix, booster_of

ALL: Final = np.uint64(2**64 - 1)
CHUNK: Final = 16
"""Rows evaluated together: (rows, features, trees) uint64 temporaries of ~2 MB stay in cache
(1,000 rows, one core of a busy 2-core machine: 9 ms in chunks of 16 to 64, 10 ms in chunks of
8, 32 ms for scikit-learn's own predict)."""
TOLERANCE: Final = 1e-9
_ONE: Final = np.uint64(1)

Indices = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Tables:
    cuts: Matrix
    """Every feature's split thresholds in one ascending array, ending with +inf: where a value
    falls among them (searchsorted) says where it falls among its own feature's, and only a
    NaN falls after the last."""
    row_of: Indices
    """(features x (cuts + 1)) flattened: the reach row of feature f for a value with p cuts
    below it, at f * (cuts + 1) + p (the last of each feature: missing)."""
    feature_base: Indices
    """f * (cuts + 1) for each feature f: where its part of `row_of` starts."""
    reach: npt.NDArray[np.uint64]
    """(rows, trees): the leaves still reachable, per feature and interval between its
    thresholds, then one row for a missing value."""
    leaves: Matrix
    """(trees x MAX_LEAVES) leaf values, flattened."""
    leaf_base: Indices
    """Where each tree's leaves start in `leaves`, less one (`_leaf` counts from one)."""
    baseline: float
    transform: str


def _feature_reach(
    forest: Forest, at: npt.NDArray[np.bool_]
) -> tuple[Matrix, npt.NDArray[np.uint64]]:
    """One feature's distinct thresholds and reach rows: row k for a value with k thresholds
    below it, the last for a missing value (`at`: the feature's split nodes)."""
    distinct, rank = np.unique(forest.threshold[at], return_inverse=True)
    tree, cleared = forest.tree[at], ~forest.mask[at]
    reach = np.full((len(distinct) + 2, len(forest.leaves)), ALL)
    # Above a threshold a row goes right at its splits, and at those of every lower threshold.
    np.bitwise_and.at(reach, (rank + 1, tree), cleared)
    reach[:-1] = np.bitwise_and.accumulate(reach[:-1], axis=0)
    right = ~forest.missing_left[at]
    np.bitwise_and.at(reach[-1], tree[right], cleared[right])
    return distinct, reach


def tables(forest: Forest) -> Tables:
    built = [_feature_reach(forest, forest.feature == f) for f in range(forest.width)]
    cuts = np.union1d(np.concatenate([d for d, _ in built]), [np.inf])
    # A feature's thresholds are among the cuts, so how many lie below a value depends only on
    # how many cuts do: one table per feature, indexed by the position searchsorted gives.
    starts = np.cumsum([0, *(len(r) for _, r in built[:-1])])
    row_of = [
        np.append(start + d.searchsorted(cuts), start + len(d) + 1)
        for (d, _), start in zip(built, starts, strict=True)
    ]
    trees = len(forest.leaves)
    return Tables(
        cuts=cuts,
        row_of=np.concatenate(row_of).astype(np.intp),
        feature_base=np.arange(forest.width, dtype=np.intp) * (len(cuts) + 1),
        reach=np.concatenate([r for _, r in built]),
        leaves=forest.leaves.ravel(),
        leaf_base=np.arange(trees, dtype=np.intp) * MAX_LEAVES - 1,
        baseline=forest.baseline,
        transform=forest.transform,
    )


def _leaf(t: Tables, alive: npt.NDArray[np.uint64]) -> Indices:
    """Where in `leaves` each tree's leftmost reachable leaf is: with its lowest set bit at k,
    `alive ^ (alive - 1)` sets that bit and the k below it (three calls; a log2 took five)."""
    leaf: Indices = np.bitwise_count(alive ^ (alive - _ONE)) + t.leaf_base
    return leaf


def _chunk(t: Tables, x: Matrix) -> Matrix:
    at = t.row_of.take(t.cuts.searchsorted(x) + t.feature_base)
    alive = np.bitwise_and.reduce(t.reach.take(at, axis=0), axis=1)
    values: Matrix = t.baseline + t.leaves.take(_leaf(t, alive)).sum(axis=1)
    return values


def _one(t: Tables, row: Matrix) -> Matrix:
    """One row, derived in Python floats: the same bits as core.geography.derive at a tenth
    of its numpy calls, which cost more than the arithmetic on one row."""
    values = row.tolist()
    x = geography.derive_row(values) if t.transform == "geography" else values
    return _chunk(t, np.array([x]))


def predict(t: Tables, matrix: Matrix) -> Matrix:
    """Predictions for (rows, 8) inputs in feature order."""
    if len(matrix) == 1:
        return _one(t, matrix[0])
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
    return replace(t, transform="")


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
