"""The model's forest (core.forest), checked against the model and logged beside it, so serving
can load a few arrays instead of deserializing the estimator and walking it tree by tree.

It is logged only if core.masks answers as the model does to TOLERANCE: on probe rows that sit
on every split threshold and just above it, and on validation rows through the whole pipeline.
A model it cannot express (another family, a tree over 64 leaves) is logged without one and
served by scikit-learn.
"""

import tempfile
from pathlib import Path
from typing import Any

from core import forest, masks
from core.forest import Matrix
from core.registry import FOREST_ARTIFACT

CHECK_ROWS = 256
"""Validation rows the file carries with the model's predictions, checked again at load."""


def compile_and_log(model: Any, validation: Matrix) -> str:
    """Log the forest of `model` into the active run; a line saying what happened."""
    import mlflow

    made = forest.extract(model, validation[:CHECK_ROWS])
    if made is None:
        return "no forest (served by scikit-learn)"
    _, difference = masks.checked(model, made)
    mlflow.log_metric("forest.max_difference", difference)
    if not difference <= masks.TOLERANCE:
        return f"no forest: it differs from the model by {difference:.2e}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(FOREST_ARTIFACT).name
        forest.save(made, path)
        mlflow.log_artifact(str(path), str(Path(FOREST_ARTIFACT).parent))
    return f"forest logged (max difference {difference:.1e})"
