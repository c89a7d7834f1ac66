"""Regression scores, in the target's unit ($100k)."""

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from core.profile import FloatArray
from training.records import Scores


def score(y_true: FloatArray, y_pred: FloatArray) -> Scores:
    if not np.all(np.isfinite(y_pred)):
        return Scores(rmse=float("inf"), mae=float("inf"), r2=float("-inf"))
    return Scores(
        rmse=float(root_mean_squared_error(y_true, y_pred)),
        mae=float(mean_absolute_error(y_true, y_pred)),
        r2=float(r2_score(y_true, y_pred)),
    )
