"""The compiled tree walk (inference.booster) answers exactly as the model it replaces.

The model is the one the shipped params.yaml trains, on the real data's split, as the pipeline
fits it (without MLflow); the holdout is the frozen one.
"""

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES
from core.settings import load_settings
from inference import booster
from training.datasets import Split, to_split
from training.models import build
from training.prepare import split_frame

REPO = Path(__file__).resolve().parents[2]
WIDTH = len(FEATURE_NAMES)


@pytest.fixture(scope="module")
def fitted(california_csv: Path) -> tuple[Any, Split]:
    settings = load_settings(REPO / "params.yaml")
    frame = pd.read_csv(california_csv)
    splits = {name: to_split(f) for name, f in split_frame(frame, settings).items()}
    model = build(settings.train, "hist_gradient_boosting")
    with threadpool_limits(1):  # OpenMP threads spin-wait on a busy shared machine
        model.fit(splits["train"].x, splits["train"].y)
    return model, splits["holdout"]


def test_the_compiled_walk_matches_the_model_on_the_holdout_to_1e9(
    fitted: tuple[Any, Split],
) -> None:
    model, holdout = fitted
    compiled, how = booster.compile_estimator(model, WIDTH)
    assert isinstance(compiled, booster.CompiledBooster), how
    x = np.asarray(holdout.x, dtype=np.float64)
    assert booster.verify(model, compiled, x) <= booster.TOLERANCE
    single = np.concatenate([compiled.predict(x[i : i + 1]) for i in range(200)])
    np.testing.assert_allclose(single, model.predict(x[:200]), rtol=0, atol=booster.TOLERANCE)


def test_rows_with_nan_and_large_batches_are_left_to_scikit_learn(
    fitted: tuple[Any, Split],
) -> None:
    model, holdout = fitted
    compiled, _ = booster.compile_estimator(model, WIDTH)
    x = np.asarray(holdout.x, dtype=np.float64)[:3].copy()
    x[1, 0] = np.nan  # missing values follow each split's learned side, which the walk ignores
    assert np.array_equal(compiled.predict(x), model.predict(x))
    big = np.asarray(holdout.x, dtype=np.float64)[: booster.SMALL_BATCH + 1]
    assert np.array_equal(compiled.predict(big), model.predict(big))


def test_a_walk_that_sends_values_equal_to_a_threshold_right_is_caught_at_load(
    fitted: tuple[Any, Split],
) -> None:
    model, _ = fitted
    trees = booster.flatten(model)
    assert trees is not None
    # `<` where scikit-learn has `<=`: identical except on the thresholds themselves.
    off_by_one = dataclasses.replace(trees, threshold=np.nextafter(trees.threshold, -np.inf))
    walk = booster.CompiledBooster(model, off_by_one)
    assert booster.verify(model, walk, booster.probe_rows(trees, WIDTH)) > booster.TOLERANCE


def test_a_model_that_is_not_a_boosted_regressor_is_served_as_it_is(
    fitted: tuple[Any, Split],
) -> None:
    _, holdout = fitted
    linear = LinearRegression().fit(holdout.x, holdout.y)
    served, how = booster.compile_estimator(linear, WIDTH)
    assert served is linear
    assert "scikit-learn" in how
