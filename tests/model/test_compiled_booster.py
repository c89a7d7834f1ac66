"""The forest tables serving predicts with (core.forest, core.masks, inference.booster) answer
exactly as the model they replace.

The model is the one the shipped params.yaml trains (derived location columns, then boosted
trees), on the real data's split, as the pipeline fits it (without MLflow); the holdout is the
frozen one.
"""

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from threadpoolctl import threadpool_limits

from core import forest, masks
from core.errors import CalhousingError
from core.settings import load_settings
from inference import booster
from training.datasets import Split, to_split
from training.models import build
from training.prepare import split_frame

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fitted(california_csv: Path) -> tuple[Any, Split]:
    settings = load_settings(REPO / "params.yaml")
    frame = pd.read_csv(california_csv)
    splits = {name: to_split(f) for name, f in split_frame(frame, settings).items()}
    model = build(settings.train, "hist_gradient_boosting")
    with threadpool_limits(1):  # OpenMP threads spin-wait on a busy shared machine
        model.fit(splits["train"].x, splits["train"].y)
    return model, splits["holdout"]


@pytest.fixture(scope="module")
def made(fitted: tuple[Any, Split]) -> forest.Forest:
    model, holdout = fitted
    extracted = forest.extract(model, holdout.x[:256])
    assert extracted is not None
    return extracted


def test_the_tables_match_the_model_on_the_whole_holdout_to_1e9(
    fitted: tuple[Any, Split],
) -> None:
    model, holdout = fitted
    compiled, how = booster.compile_estimator(model)
    assert isinstance(compiled, booster.ForestPredictor), how
    np.testing.assert_allclose(
        compiled.predict(holdout.x), model.predict(holdout.x), rtol=0, atol=masks.TOLERANCE
    )
    single = np.concatenate([compiled.predict(holdout.x[i : i + 1]) for i in range(200)])
    np.testing.assert_allclose(single, model.predict(holdout.x[:200]), rtol=0, atol=1e-9)


def test_missing_values_take_the_side_each_split_learned(
    fitted: tuple[Any, Split], made: forest.Forest
) -> None:
    model, holdout = fitted
    x = holdout.x[:40].copy()
    x[::2, 0] = np.nan  # MedInc, the first split of most trees
    x[1::3, 6] = np.nan  # Latitude, which every derived column depends on
    np.testing.assert_allclose(
        masks.predict(masks.tables(made), x), model.predict(x), rtol=0, atol=1e-9
    )


def test_one_row_alone_gets_the_same_bits_as_in_chunks_missing_values_included(
    fitted: tuple[Any, Split], made: forest.Forest
) -> None:
    _, holdout = fitted
    x = holdout.x[:1_000].copy()
    x[np.random.default_rng(0).random(x.shape) < 0.1] = np.nan
    tables = masks.tables(made)
    alone = np.concatenate([masks.predict(tables, x[i : i + 1]) for i in range(len(x))])
    assert np.array_equal(alone, masks.predict(tables, x))


def test_a_saved_forest_loads_and_serves_without_the_estimator(
    made: forest.Forest, fitted: tuple[Any, Split], tmp_path: Path
) -> None:
    model, holdout = fitted
    forest.save(made, tmp_path / "forest.npz")
    served, how = booster.from_file(tmp_path / "forest.npz")
    assert "file" in how
    np.testing.assert_allclose(
        served.predict(holdout.x[:500]), model.predict(holdout.x[:500]), rtol=0, atol=1e-9
    )


def test_a_forest_file_whose_predictions_do_not_reproduce_is_refused(
    made: forest.Forest, tmp_path: Path
) -> None:
    tampered = dataclasses.replace(made, check_predictions=made.check_predictions + 1e-6)
    forest.save(tampered, tmp_path / "forest.npz")
    with pytest.raises(CalhousingError, match="differs from its model"):
        booster.from_file(tmp_path / "forest.npz")


def test_a_file_that_is_not_a_forest_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "forest.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CalhousingError, match=r"forest file forest\.npz is unusable"):
        booster.from_file(tmp_path / "forest.npz")


def test_tables_that_send_values_equal_to_a_threshold_right_are_caught(
    fitted: tuple[Any, Split], made: forest.Forest
) -> None:
    model, _ = fitted
    # `<` where scikit-learn has `<=`: identical except on the thresholds themselves.
    off_by_one = dataclasses.replace(made, threshold=np.nextafter(made.threshold, -np.inf))
    assert masks.verify(model, off_by_one, masks.tables(off_by_one)) > masks.TOLERANCE


def test_a_model_that_is_not_a_boosted_regressor_is_served_as_it_is(
    fitted: tuple[Any, Split],
) -> None:
    _, holdout = fitted
    linear = LinearRegression().fit(holdout.x, holdout.y)
    served, how = booster.compile_estimator(linear)
    assert served is linear
    assert "scikit-learn" in how
