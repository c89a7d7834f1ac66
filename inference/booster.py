"""The predictor serving calls: a boosted forest's bit-mask tables (core.masks) where the model
has them, scikit-learn's estimator otherwise.

Two ways in: the forest file training logged beside the model (the fast start: no estimator is
deserialized), or the estimator itself when a version has no file (compiled at load). Either
way it serves only after answering as the model did, to core.masks.TOLERANCE: the file on the
rows and predictions it carries, a compiled estimator on probe rows of every split threshold.
"""

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from core import forest, masks
from core.errors import CalhousingError
from core.features import FEATURES
from core.forest import Matrix

CHECK_ROWS = 256


class ForestPredictor:
    """`predict` through the tables; no estimator behind it."""

    def __init__(self, tables: masks.Tables) -> None:
        self.tables = tables

    def predict(self, x: Matrix) -> Matrix:
        return masks.predict(self.tables, x)


def from_file(path: Path) -> tuple[ForestPredictor, str]:
    """The predictor of a logged forest file, once it reproduces the predictions it carries."""
    try:
        made = forest.load(path)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:  # ForestFileError too
        raise CalhousingError(f"forest file {path.name} is unusable: {err}") from err
    tables = masks.tables(made)
    difference = masks.gap(tables, made.check_rows, made.check_predictions)
    if not difference <= masks.TOLERANCE:
        raise CalhousingError(f"forest file {path.name} differs from its model by {difference}")
    return ForestPredictor(tables), f"forest tables from the file (max difference {difference:.1e})"


def sample_rows(rows: int = CHECK_ROWS, seed: int = 0) -> Matrix:
    """Rows drawn across every feature's possible range (core.features)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(f.minimum, f.maximum, rows) for f in FEATURES])


def compile_estimator(estimator: Any) -> tuple[Any, str]:
    """The tables of `estimator` if they answer as it does (on probe rows, and on sample rows
    through the whole pipeline), else the estimator itself; and a line saying which."""
    made = forest.extract(estimator, sample_rows())
    if made is None:
        return estimator, "served by scikit-learn (not a compilable booster)"
    tables, difference = masks.checked(estimator, made)
    if not difference <= masks.TOLERANCE:
        return estimator, f"served by scikit-learn (compiled trees differ by {difference:.2e})"
    return ForestPredictor(tables), f"compiled trees (max difference {difference:.1e})"
