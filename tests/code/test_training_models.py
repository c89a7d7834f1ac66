"""Each family builds from its params and saves with exactly its declared skops trusted types."""

import numpy as np
import pytest
import skops.io

from core import geography
from core.settings import Family, TrainSettings
from training.models import SKOPS_TRUSTED_TYPES, build, pip_requirements

SMALL = TrainSettings.model_validate(
    {"random_forest": {"n_estimators": 3}, "hist_gradient_boosting": {"max_iter": 3}, "n_jobs": 1}
)


@pytest.mark.parametrize("family", list(SKOPS_TRUSTED_TYPES))
def test_the_declared_trusted_types_are_exactly_what_skops_needs(family: Family) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 8)), rng.normal(size=200)
    dumped = skops.io.dumps(build(SMALL, family).fit(x, y))
    assert sorted(skops.io.get_untrusted_types(data=dumped)) == sorted(SKOPS_TRUSTED_TYPES[family])
    skops.io.loads(dumped, trusted=SKOPS_TRUSTED_TYPES[family])


def test_every_family_has_trusted_types_declared() -> None:
    assert set(SKOPS_TRUSTED_TYPES) == set(TrainSettings().families)


def test_params_reach_the_estimator() -> None:
    booster = build(SMALL, "hist_gradient_boosting")[-1]
    assert booster.get_params()["max_iter"] == 3
    assert booster.get_params()["random_state"] == SMALL.seed


@pytest.mark.parametrize("family", list(SKOPS_TRUSTED_TYPES))
def test_every_family_sees_the_derived_location_columns(family: Family) -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [rng.normal(size=(200, 6)), rng.uniform(33, 41, 200), rng.uniform(-124, -115, 200)]
    )
    model = build(SMALL, family).fit(x, rng.normal(size=200))
    assert model[-1].n_features_in_ == len(geography.NAMES) == 18


def test_pip_requirements_pin_the_installed_versions() -> None:
    pins = dict(line.split("==") for line in pip_requirements())
    assert {"scikit-learn", "skops", "mlflow"} <= set(pins)
    assert all(version[0].isdigit() for version in pins.values())
