"""The forest tables (core.masks) on a small boosted model: the single-row path and the chunked
path give the same bits, and both answer as the estimator, missing values included.

The model is small (40 trees) but shaped as the shipped one: derived location columns, then
boosted trees, fitted on real rows with holes so its splits learn where a NaN goes.
"""

from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from core import forest, masks
from core.profile import FloatArray
from training.features import GeoFeatures

ROWS = 3_000


def _with_holes(x: FloatArray, seed: int) -> FloatArray:
    holed = x.copy()
    holed[np.random.default_rng(seed).random(x.shape) < 0.1] = np.nan
    return holed


@pytest.fixture(scope="module")
def fitted(california_xy: tuple[FloatArray, FloatArray]) -> tuple[Any, FloatArray]:
    x, y = california_xy
    train = _with_holes(x[:ROWS], seed=0)
    model = make_pipeline(
        GeoFeatures(), HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=63)
    )
    with threadpool_limits(1):  # OpenMP threads spin-wait on a busy shared machine
        model.fit(train, y[:ROWS])
    return model, _with_holes(x[ROWS : 2 * ROWS], seed=1)


@pytest.fixture(scope="module")
def tables(fitted: tuple[Any, FloatArray]) -> masks.Tables:
    model, rows = fitted
    made = forest.extract(model, rows[:64])
    assert made is not None
    return masks.tables(made)


def test_one_row_alone_gets_the_same_bits_as_in_chunks_missing_values_included(
    fitted: tuple[Any, FloatArray], tables: masks.Tables
) -> None:
    _, rows = fitted
    rows = rows[:1_000]
    alone = np.concatenate([masks.predict(tables, rows[i : i + 1]) for i in range(len(rows))])
    assert np.array_equal(alone, masks.predict(tables, rows))


def test_one_row_and_chunks_answer_as_the_estimator_missing_values_included(
    fitted: tuple[Any, FloatArray], tables: masks.Tables
) -> None:
    model, rows = fitted
    expected = model.predict(rows)
    assert masks.gap(tables, rows, expected) <= masks.TOLERANCE
    assert masks.gap(tables, rows[:1], expected[:1]) <= masks.TOLERANCE


def test_the_trees_answer_as_the_estimator_on_both_sides_of_every_threshold(
    fitted: tuple[Any, FloatArray],
) -> None:
    model, rows = fitted
    made = forest.extract(model, rows[:64])
    assert made is not None
    assert masks.checked(model, made)[1] <= masks.TOLERANCE


def test_a_value_above_every_threshold_is_not_taken_for_a_missing_one(
    fitted: tuple[Any, FloatArray], tables: masks.Tables
) -> None:
    model, rows = fitted
    above = rows[:50].copy()
    above[:, 0] = 1e300  # MedInc: above every threshold, short of +inf: after it only NaN
    np.testing.assert_allclose(
        masks.predict(tables, above), model.predict(above), rtol=0, atol=masks.TOLERANCE
    )
