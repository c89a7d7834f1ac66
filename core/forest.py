"""A boosted forest as a few arrays: extracted from the fitted estimator at training, saved
beside the model, evaluated in serving without scikit-learn (core.masks).

Each split node is kept as (feature, threshold, tree, mask): `mask` has one bit per leaf of its
tree, numbered left to right, set for the leaves under its left child, the leaves a row that
goes right can no longer reach. A row's leaf in a tree is then the lowest bit left after
clearing the masks of every split it goes right at (QuickScorer: Lucchese et al., SIGIR 2015),
so no tree is walked node by node. Trees of at most 64 leaves fit one uint64.

The saved file is a plain `.npz` read with `allow_pickle=False`: loading it runs no code, and
it carries rows and the estimator's own predictions for them, which the loader checks again.
"""

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from core.features import FEATURE_NAMES

Matrix = npt.NDArray[np.float64]
MAX_LEAVES: Final = 64
TRANSFORMS: Final = ("", "geography")
"""What runs before the trees: nothing, or core.geography.derive."""


@dataclass(frozen=True)
class Forest:
    feature: npt.NDArray[np.intp]
    threshold: Matrix
    tree: npt.NDArray[np.intp]
    mask: npt.NDArray[np.uint64]
    missing_left: npt.NDArray[np.bool_]
    """Where a NaN goes at each split, as scikit-learn learned it."""
    leaves: Matrix
    """(trees, MAX_LEAVES) leaf values, left to right, zero-padded."""
    baseline: float
    width: int
    """Columns the trees split on (after the transform)."""
    transform: str
    check_rows: Matrix
    """Input rows and the estimator's predictions for them, taken when the forest was made."""
    check_predictions: Matrix


def _boosted(estimator: Any) -> tuple[Any, str] | None:
    """The boosting step and the transform before it, for the shapes serving can compute."""
    steps = getattr(estimator, "steps", None)
    if steps is None:
        return estimator, ""
    *before, (_, last) = steps
    names = [getattr(step, "serving_transform", None) for _, step in before]
    if names in ([], ["geography"]):
        return last, "".join(str(n) for n in names)
    return None


def booster_of(estimator: Any) -> Any:
    """The last step of a pipeline, or the estimator itself."""
    steps = getattr(estimator, "steps", None)
    return estimator if steps is None else steps[-1][1]


def _tree(nodes: Any) -> tuple[list[int], list[int], list[int]]:
    """A tree's split nodes, their left-subtree leaf masks, and its leaves left to right."""
    splits: list[int] = []
    masks: list[int] = []
    leaves: list[int] = []

    def visit(node: int) -> int:  # the mask of the leaves under `node`
        if nodes["is_leaf"][node]:
            leaves.append(node)
            return 1 << (len(leaves) - 1)
        at = len(splits)
        splits.append(node)
        masks.append(0)
        masks[at] = visit(int(nodes["left"][node]))
        return masks[at] | visit(int(nodes["right"][node]))

    visit(0)
    return splits, masks, leaves


def extract(estimator: Any, check_rows: Matrix) -> Forest | None:
    """The forest of a fitted single-output HistGradientBoostingRegressor (identity link,
    numeric splits, at most 64 leaves a tree), alone or after GeoFeatures; None otherwise."""
    found = _boosted(estimator)
    booster: Any = found[0] if found else None
    predictors = getattr(booster, "_predictors", None)
    baseline = np.ravel(getattr(booster, "_baseline_prediction", [np.nan]))
    link = type(getattr(getattr(booster, "_loss", None), "link", None)).__name__
    if found is None or not predictors or len(baseline) != 1 or link != "IdentityLink":
        return None
    nodes = [p.nodes for (p,) in predictors]
    if any(n["is_categorical"].any() or n["is_leaf"].sum() > MAX_LEAVES for n in nodes):
        return None
    columns: dict[str, list[Any]] = {"feature": [], "threshold": [], "tree": [], "mask": []}
    columns["missing_left"] = []
    leaves = np.zeros((len(nodes), MAX_LEAVES))
    for t, tree in enumerate(nodes):
        splits, masks, order = _tree(tree)
        leaves[t, : len(order)] = tree["value"][order]
        columns["feature"].extend(tree["feature_idx"][splits])
        columns["threshold"].extend(tree["num_threshold"][splits])
        columns["tree"].extend([t] * len(splits))
        columns["mask"].extend(masks)
        columns["missing_left"].extend(tree["missing_go_to_left"][splits].astype(bool))
    check = np.asarray(check_rows, dtype=np.float64)
    return Forest(
        feature=np.asarray(columns["feature"], dtype=np.intp),
        threshold=np.asarray(columns["threshold"], dtype=np.float64),
        tree=np.asarray(columns["tree"], dtype=np.intp),
        mask=np.asarray(columns["mask"], dtype=np.uint64),
        missing_left=np.asarray(columns["missing_left"], dtype=np.bool_),
        leaves=leaves,
        baseline=float(baseline[0]),
        width=int(booster.n_features_in_),
        transform=found[1],
        check_rows=check,
        check_predictions=np.asarray(estimator.predict(check), dtype=np.float64),
    )


def save(forest: Forest, path: Path) -> None:
    arrays: dict[str, Any] = {f.name: np.asarray(getattr(forest, f.name)) for f in fields(Forest)}
    np.savez_compressed(path, inputs=np.asarray(FEATURE_NAMES), **arrays)


class ForestFileError(ValueError):
    """A forest file this code cannot serve: other inputs, an unknown transform, bad arrays."""


def load(path: Path) -> Forest:
    with np.load(path, allow_pickle=False) as saved:
        if tuple(saved["inputs"]) != FEATURE_NAMES:
            raise ForestFileError(f"{path}: made for inputs {list(saved['inputs'])}")
        values = {f.name: saved[f.name] for f in fields(Forest)}
    for scalar, kind in (("baseline", float), ("width", int), ("transform", str)):
        values[scalar] = kind(values[scalar])
    if values["transform"] not in TRANSFORMS:
        raise ForestFileError(f"{path}: unknown transform {values['transform']!r}")
    return Forest(**values)
