"""The derived location columns: right distances, and the same bits for a row alone or in a batch
(split thresholds sit on grid values, so one ulp moves a prediction)."""

import numpy as np

from core import geography
from core.features import FEATURES

LA, SF = geography.CITIES["los_angeles"], geography.CITIES["san_francisco"]


def _rows(coordinates: list[tuple[float, float]]) -> np.ndarray:
    rows = np.ones((len(coordinates), len(FEATURES)))
    rows[:, [geography.LATITUDE, geography.LONGITUDE]] = coordinates
    return rows


def _column(name: str) -> int:
    return geography.NAMES.index(name)


def test_a_block_group_in_a_city_is_zero_km_from_it_and_from_the_nearest() -> None:
    derived = geography.derive(_rows([LA]))
    assert derived[0, _column("km_to_los_angeles")] == 0.0
    assert derived[0, _column("km_to_nearest_city")] == 0.0


def test_los_angeles_to_san_francisco_is_about_560_km() -> None:
    km = geography.derive(_rows([LA]))[0, _column("km_to_san_francisco")]
    assert 540 < km < 580  # great-circle distance: 559 km


def test_the_inputs_come_through_unchanged_in_front() -> None:
    rows = _rows([LA, SF])
    np.testing.assert_array_equal(geography.derive(rows)[:, : len(FEATURES)], rows)


def test_one_row_gets_the_same_bits_alone_as_in_a_batch() -> None:
    rng = np.random.default_rng(0)
    grid = np.round(
        np.column_stack([rng.uniform(32.5, 42, 500), rng.uniform(-124, -114.5, 500)]), 2
    )
    batch = geography.derive(_rows([tuple(c) for c in grid]))
    alone = np.vstack([geography.derive(_rows([tuple(c)])) for c in grid])
    assert np.array_equal(alone, batch)


def test_the_single_row_derivation_gives_the_same_bits_as_the_batch_one() -> None:
    rng = np.random.default_rng(1)
    coordinates = np.column_stack([rng.uniform(32.5, 42, 2_000), rng.uniform(-124, -114.5, 2_000)])
    coordinates[:1_000] = np.round(coordinates[:1_000], 2)  # the grid thresholds sit on
    coordinates[::7, 0] = np.nan
    coordinates[::11, 1] = np.nan
    coordinates[1::13] = [np.inf, -np.inf]
    rows = _rows([tuple(c) for c in coordinates])
    with np.errstate(invalid="ignore"):
        batch = geography.derive(rows)
    alone = np.array([geography.derive_row(row) for row in rows.tolist()])
    assert np.array_equal(alone.view(np.int64), batch.view(np.int64))  # NaN's bits too
