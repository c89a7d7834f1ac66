"""A HistGradientBoosting regressor's trees as flat numpy arrays, walked for every tree at once.

Why: scikit-learn predicts tree by tree, with a Python call per tree: ~1 ms for one row of the
800-tree production model, most of a single-row request's time. Walking all trees together,
one level per numpy step, costs ~0.1 ms for small batches; for large ones scikit-learn's
compiled loop is faster, so `CompiledBooster` hands those (and anything with NaN) back to it.

It serves only after `verify` has found it equal to the estimator (to `TOLERANCE`) on rows
built from the model's own split thresholds: every split is exercised on both sides of its
threshold, exactly where a `<` written for a `<=` would show.
"""

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]

TOLERANCE: Final = 1e-9
SMALL_BATCH: Final = 32
"""Rows up to which the array walk beats scikit-learn's per-tree loop (measured on the
production model: 20x faster for 1 row, even at 32, slower from 64)."""


@dataclass(frozen=True)
class Trees:
    """Every tree's nodes in one array. Node i's fields sit at 2i, and its children at
    `child[2i]` (left) and `child[2i + 1]` (right), both stored as 2 * index, so a step is
    `node = child[node + go_right]`. A leaf's children are itself. Trees are ordered deepest
    first, so the trees still walking at level d are the first `active[d]`."""

    feature: npt.NDArray[np.intp]
    threshold: Matrix
    child: npt.NDArray[np.intp]
    value: Matrix
    roots: npt.NDArray[np.intp]
    active: tuple[int, ...]
    baseline: float


def flatten(estimator: Any) -> Trees | None:
    """The trees of a fitted single-output HistGradientBoostingRegressor with an identity
    link and numeric splits only; None for anything else (it is then served as it is)."""
    predictors = getattr(estimator, "_predictors", None)
    baseline = np.ravel(getattr(estimator, "_baseline_prediction", [np.nan]))
    link = type(getattr(getattr(estimator, "_loss", None), "link", None)).__name__
    if not predictors or len(baseline) != 1 or link != "IdentityLink":
        return None
    nodes = [p.nodes for (p,) in predictors]
    if any(n["is_categorical"].any() for n in nodes):
        return None
    sizes = list(map(len, nodes))
    starts = np.repeat(np.cumsum([0, *sizes])[:-1], sizes)
    flat = np.concatenate(nodes)
    own = np.arange(len(flat))
    left = np.where(flat["is_leaf"], own, flat["left"] + starts)
    right = np.where(flat["is_leaf"], own, flat["right"] + starts)
    depths = np.array([n["depth"].max() for n in nodes])
    deepest_first = np.argsort(-depths, kind="stable")
    return Trees(
        feature=np.repeat(flat["feature_idx"].astype(np.intp), 2),
        threshold=np.repeat(flat["num_threshold"].astype(np.float64), 2),
        child=(2 * np.column_stack([left, right])).ravel().astype(np.intp),
        value=flat["value"].astype(np.float64),
        roots=(2 * np.cumsum([0, *sizes])[:-1][deepest_first]).astype(np.intp),
        active=tuple(int((depths > level).sum()) for level in range(int(depths.max()))),
        baseline=float(baseline[0]),
    )


def walk(trees: Trees, matrix: Matrix) -> Matrix:
    """Predictions for finite rows: all trees, one level per step, each step on the trees
    not yet at a leaf (a third fewer node visits than walking every tree to the deepest)."""
    rows, width = matrix.shape
    flat = matrix.ravel()
    base = (np.arange(rows, dtype=np.intp) * width)[:, None]
    node = np.repeat(trees.roots[None, :], rows, axis=0)
    for walking in trees.active:
        part = node[:, :walking]
        values = flat[base + trees.feature[part]]
        node[:, :walking] = trees.child[part + (values > trees.threshold[part])]
    leaves: Matrix = trees.value[node // 2]
    predictions: Matrix = trees.baseline + leaves.sum(axis=1)
    return predictions


class CompiledBooster:
    """The estimator's `predict`, walked in numpy for small batches of finite rows."""

    def __init__(self, estimator: Any, trees: Trees) -> None:
        self.estimator, self.trees = estimator, trees
        self.feature_names_in_ = getattr(estimator, "feature_names_in_", None)

    def predict(self, x: Matrix) -> Matrix:
        if len(x) > SMALL_BATCH or not np.isfinite(x).all():
            result: Matrix = self.estimator.predict(x)
            return result
        return walk(self.trees, x)


def probe_rows(trees: Trees, features: int, rows: int = 2_000, seed: int = 0) -> Matrix:
    """Rows whose values are split thresholds, or the next float above one: both sides of
    real splits, drawn per feature."""
    rng = np.random.default_rng(seed)
    split = trees.child[::2] != 2 * np.arange(len(trees.value))
    feature, threshold = trees.feature[::2][split], trees.threshold[::2][split]
    columns = []
    for f in range(features):
        points = np.unique(threshold[(feature == f) & np.isfinite(threshold)])
        if not len(points):
            points = np.zeros(1)
        points = np.concatenate([points, np.nextafter(points, np.inf)])
        columns.append(rng.choice(points, rows))
    return np.column_stack(columns)


def verify(estimator: Any, compiled: CompiledBooster, matrix: Matrix) -> float:
    """The largest absolute difference between the two on `matrix`, in batches the
    compiled walk serves."""
    expected = estimator.predict(matrix)
    got = np.concatenate(
        [compiled.predict(matrix[i : i + SMALL_BATCH]) for i in range(0, len(matrix), SMALL_BATCH)]
    )
    return float(np.max(np.abs(expected - got)))


def compile_estimator(estimator: Any, features: int) -> tuple[Any, str]:
    """The compiled booster if it matches the estimator on the probe rows, else the estimator
    itself; and a line saying which, for the load log."""
    trees = flatten(estimator)
    if trees is None:
        return estimator, "served by scikit-learn (not a compilable booster)"
    compiled = CompiledBooster(estimator, trees)
    gap = verify(estimator, compiled, probe_rows(trees, features))
    if not gap <= TOLERANCE:
        return estimator, f"served by scikit-learn (compiled trees differ by {gap:.2e})"
    return compiled, f"compiled trees (max difference {gap:.1e} on threshold probes)"
