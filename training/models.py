"""The model families: how each is built from its params and what it needs to load again."""

from importlib.metadata import version
from typing import Any, Final

from sklearn.base import RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from core.settings import Family, TrainSettings
from training.features import GeoFeatures

# What skops must be told to trust when loading each family back. Everything else in these
# models is on skops' default trust list; anything new makes log_model fail loudly, which is
# the point: the list is reviewed, never inferred.
_GEO = f"{GeoFeatures.__module__}.{GeoFeatures.__qualname__}"
SKOPS_TRUSTED_TYPES: Final[dict[Family, list[str]]] = {
    "linear": [_GEO],
    "random_forest": [_GEO, "sklearn.tree._tree.Tree"],
    "hist_gradient_boosting": [
        _GEO, "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
    ],
}  # fmt: skip

# Given explicitly: letting MLflow infer them imports the model in a subprocess (15 s per model).
MODEL_PACKAGES: Final[tuple[str, ...]] = (
    "mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas",
)  # fmt: skip


def pip_requirements() -> list[str]:
    """The packages a logged model needs, pinned to the versions that trained it."""
    return [f"{package}=={version(package)}" for package in MODEL_PACKAGES]


def hyperparams(train: TrainSettings, family: Family) -> dict[str, Any]:
    params: dict[str, Any] = getattr(train, family).model_dump()
    return params


def build(train: TrainSettings, family: Family) -> Pipeline:
    """An unfitted estimator of `family` with its params from the settings, after the derived
    location columns (training.features)."""
    return make_pipeline(GeoFeatures(), *_steps(train, family))


def _steps(train: TrainSettings, family: Family) -> list[RegressorMixin]:
    params = hyperparams(train, family)
    if family == "linear":
        # Ridge's penalty treats every coefficient alike: features must share a scale first.
        return [StandardScaler(), Ridge(**params)]
    if family == "random_forest":
        return [RandomForestRegressor(**params, n_jobs=train.n_jobs, random_state=train.seed)]
    return [HistGradientBoostingRegressor(**params, random_state=train.seed)]
