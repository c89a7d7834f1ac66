"""Reference profile math: quantile edges, open-ended bins, proportions, JSON round trip."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from core.profile import (
    bin_counts,
    bin_proportions,
    build_profile,
    load_profile,
    profile_column,
    quantile_edges,
    save_profile,
    with_prediction,
)

UNIFORM = np.arange(1000, dtype=np.float64)


def test_quantile_edges_cut_uniform_data_into_equal_bins() -> None:
    edges = quantile_edges(UNIFORM, 4)
    assert edges.tolist() == [250.0, 500.0, 750.0]
    assert bin_counts(UNIFORM, edges).tolist() == [250, 250, 250, 250]


def test_tied_edges_merge_so_no_training_bin_is_empty() -> None:
    discrete = np.repeat([1.0, 2.0, 3.0], [10, 80, 10])
    column = profile_column(discrete, "x", 10)
    assert len(column.proportions) == len(column.edges) + 1 < 10
    assert all(p > 0 for p in column.proportions)


def test_outer_bins_are_open_ended() -> None:
    edges = [0.0, 1.0]
    assert bin_counts(np.array([-1e9, 0.5, 1e9, np.inf]), edges).tolist() == [1, 1, 2]


def test_a_value_on_an_edge_belongs_to_the_bin_above() -> None:
    assert bin_counts(np.array([1.0]), [0.0, 1.0, 2.0]).tolist() == [0, 0, 1, 0]


@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6)))
def test_proportions_of_the_training_data_sum_to_one(values: np.ndarray) -> None:
    column = profile_column(values, "x", 10)
    assert sum(column.proportions) == pytest.approx(1.0)
    assert all(p > 0 for p in column.proportions)
    assert column.proportions == pytest.approx(bin_proportions(values, column.edges).tolist())
    assert column.min <= column.quantiles["0.5"] <= column.max


def test_a_profile_describes_each_column_in_order() -> None:
    matrix = np.column_stack([UNIFORM, UNIFORM * 2])
    profile = build_profile(matrix, ("a", "b"), 5)
    assert profile.rows == 1000
    assert [c.name for c in profile.features] == ["a", "b"]
    assert profile.feature("b").mean == pytest.approx(999.0)
    assert profile.feature("a").std == pytest.approx(UNIFORM.std())
    assert profile.prediction is None


def test_a_profile_refuses_a_matrix_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="expected a"):
        build_profile(np.zeros((3, 2)), ("a",), 5)


def test_a_profile_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="all finite"):
        profile_column(np.array([1.0, np.nan]), "x", 5)


def test_the_profile_round_trips_through_json(tmp_path: Path) -> None:
    profile = build_profile(np.column_stack([UNIFORM, UNIFORM**2]), ("a", "b"), 10)
    profile = with_prediction(profile, UNIFORM / 7, 10)
    save_profile(profile, tmp_path / "sub" / "profile.json")
    assert load_profile(tmp_path / "sub" / "profile.json") == profile
    assert profile.prediction is not None
    assert profile.prediction.name == "prediction"
