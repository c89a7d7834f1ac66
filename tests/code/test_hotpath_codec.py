"""The codec's fast path for the common request (each feature once, FP64, flat floats) decodes
exactly what the full path decodes, in any input order, and leaves every other request to the
full path and its refusals (integers, booleans, [N, 1] columns, mismatched shapes)."""

from typing import Any

import numpy as np
import pytest
from mlserver.types import RequestInput

from core.features import FEATURE_NAMES, FEATURES
from inference import codec


def _inp(name: str, data: Any, shape: list[int], datatype: str = "FP64") -> RequestInput:
    return RequestInput.model_construct(name=name, shape=shape, datatype=datatype, data=data)


def _rows(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low, high = np.array([f.minimum for f in FEATURES]), np.array([f.maximum for f in FEATURES])
    return rng.uniform(np.maximum(low, -1e3), np.minimum(high, 1e3), size=(count, len(FEATURES)))


def _columns(rows: np.ndarray, order: list[int]) -> list[RequestInput]:
    return [_inp(FEATURE_NAMES[i], rows[:, i].tolist(), [len(rows)]) for i in order]


@pytest.mark.parametrize("count", [1, 2, 33, 1000])
def test_the_fast_path_decodes_what_the_full_path_decodes_in_any_order(count: int) -> None:
    rows = _rows(count, seed=count)
    shuffled = list(np.random.default_rng(count).permutation(len(FEATURE_NAMES)))
    inputs = _columns(rows, shuffled)
    assert codec._plain_columns(inputs) is not None
    fast = codec.decode(inputs, 10_000)
    np.testing.assert_array_equal(fast, codec._decode_columns(inputs))
    np.testing.assert_array_equal(fast, rows)
    assert fast.flags.c_contiguous and fast.dtype == np.float64


def test_other_requests_take_the_full_path_and_keep_its_answers() -> None:
    rows = _rows(2)
    ints = _columns(np.round(rows), list(range(8)))
    ints[1] = _inp(FEATURE_NAMES[1], [int(v) for v in np.round(rows[:, 1])], [2])
    assert codec._plain_columns(ints) is None
    np.testing.assert_array_equal(codec.decode(ints, 100), np.round(rows))
    nested = [
        _inp(n, [[v] for v in rows[:, i].tolist()], [2, 1]) for i, n in enumerate(FEATURE_NAMES)
    ]
    assert codec._plain_columns(nested) is None
    np.testing.assert_array_equal(codec.decode(nested, 100), rows)


@pytest.mark.parametrize(
    ("value", "shape", "reason"),
    [([True, 1.5], [2], "dtype"), ([10**30, 1.5], [2], "dtype"), ([1.5], [2], "shape"),
     ([1.5, 2.5, 3.5], [3], "row_count"), ([], [0], "row_count")],
)  # fmt: skip
def test_refusals_are_the_full_paths(value: list[Any], shape: list[int], reason: str) -> None:
    inputs = _columns(_rows(2), list(range(8)))
    inputs[0] = _inp(FEATURE_NAMES[0], value, shape)
    with pytest.raises(codec.InvalidRequestError) as refused:
        codec.decode(inputs, 100)
    assert refused.value.reason == reason


def test_out_of_range_values_are_refused_on_the_fast_path_too() -> None:
    rows = _rows(3)
    rows[2, 0] = FEATURES[0].maximum * 10 + 1
    inputs = _columns(rows, list(range(8)))
    assert codec._plain_columns(inputs) is not None
    with pytest.raises(codec.InvalidRequestError, match="row 2") as refused:
        codec.decode(inputs, 100)
    assert (refused.value.reason, refused.value.feature) == ("out_of_range", FEATURE_NAMES[0])
