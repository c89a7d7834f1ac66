"""core.geography's derived columns as a scikit-learn step, so a fitted pipeline carries them
and any scikit-learn or MLflow consumer of the model computes them as training did.

Stateless: nothing is learned in `fit`. skops loads it only because training.models lists it
among the trusted types.
"""

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from core import geography


class GeoFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # sklearn is untyped
    """Appends the derived location columns to the 8 inputs."""

    serving_transform: ClassVar[str] = "geography"
    """The name core.forest records, so serving applies the same function before the trees."""

    def fit(self, x: Any, y: Any = None) -> "GeoFeatures":
        self.n_features_in_ = np.shape(x)[1]
        return self

    def transform(self, x: Any) -> geography.Matrix:
        return geography.derive(np.asarray(x, dtype=np.float64))

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        return np.asarray(geography.NAMES, dtype=object)
