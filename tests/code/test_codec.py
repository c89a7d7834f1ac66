"""Decoding and validation of V2 inputs, without a server: every layout, every refusal."""

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from mlserver.types import Datatype, RequestInput

from core.features import FEATURE_NAMES, FEATURES
from inference.codec import InvalidRequestError, decode, layout

ROW = [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]
ROWS = np.array([ROW, [2.0, 20.0, 5.0, 1.0, 1000.0, 3.0, 34.05, -118.25]])


Inputs = list[RequestInput]


def inp(name: str, shape: list[int], datatype: Any, data: Any) -> RequestInput:
    """A V2 input as MLServer's gRPC path builds it: its own RequestInput, unvalidated
    (`construct`, as mlserver.grpc.converters does), holding plain strings and lists."""
    return RequestInput.model_construct(name=name, shape=shape, datatype=datatype, data=data)


def columns(rows: np.ndarray[Any, Any] = ROWS, datatype: str = "FP64", **override: Any) -> Inputs:
    tensors = [
        inp(n, [len(rows)], datatype, rows[:, i].tolist()) for i, n in enumerate(FEATURE_NAMES)
    ]
    return [override.get(t.name, t) for t in tensors]


def tensor(data: Any = None, shape: list[int] | None = None, datatype: str = "FP64") -> Inputs:
    data = ROWS.ravel().tolist() if data is None else data
    return [inp("anything", shape or [2, 8], datatype, data)]


def with_value(col: int, value: Any, row: int = 1) -> Inputs:
    data = ROWS.tolist()
    data[row][col] = value
    return tensor(data)


ACCEPTED: list[tuple[str, Inputs, np.ndarray[Any, Any]]] = [
    ("columns", columns(), ROWS),
    ("columns-n-by-1", [inp(t.name, [2, 1], t.datatype, t.data) for t in columns()], ROWS),
    ("columns-any-order", columns()[::-1], ROWS),
    ("tensor-flat", tensor(), ROWS),
    ("tensor-nested", tensor(ROWS.tolist()), ROWS),
    ("tensor-one-row", tensor(ROW, [1, 8]), np.array([ROW])),
    ("fp32-rounds-like-grpc", tensor(datatype="FP32"), ROWS.astype(np.float32).astype(np.float64)),
    ("int-columns", columns(HouseAge=inp("HouseAge", [2], "INT64", [41, 20])), ROWS),
    ("uint-columns", columns(Population=inp("Population", [2], "UINT32", [322, 1000])), ROWS),
    ("fp16", tensor([[1.5, 2.0, 3.0, 1.0, 100.0, 2.0, 34.0, -118.0]], [1, 8], "FP16"),
     np.array([[1.5, 2.0, 3.0, 1.0, 100.0, 2.0, 34.0, -118.0]])),
    ("bounds-are-allowed", tensor([[f.minimum for f in FEATURES], [f.maximum for f in FEATURES]]),
     np.array([[f.minimum for f in FEATURES], [f.maximum for f in FEATURES]])),
]  # fmt: skip

REFUSED: list[tuple[str, Inputs, str]] = [
    ("no-inputs", [], "the request has no inputs"),
    ("missing-feature", columns()[1:], "missing features ['MedInc']"),
    ("unknown-feature", [*columns(), inp("Color", [2], "FP64", [1, 2])], "inputs ['Color']"),
    ("two-tensors", [*tensor(), inp("more", [2, 8], "FP64", [0.0] * 16)], "unknown inputs"),
    ("mixed-layouts", [*columns()[:4], *tensor()], "mixed layouts: input 'anything'"),
    ("duplicate", [*columns(), columns()[0]], "inputs ['MedInc'] appear more than once"),
    ("bool", tensor([True] * 16, datatype="BOOL"), "datatype BOOL is not accepted"),
    ("bytes", tensor([b"1"] * 16, datatype="BYTES"), "datatype BYTES is not accepted"),
    ("unknown-datatype", tensor(datatype="FP65"), "datatype FP65 is not accepted"),
    ("string-in-fp64", with_value(3, "1.0"), "data must be numbers, got str '1.0'"),
    ("none-in-fp64", with_value(3, None), "data must be numbers, got NoneType None"),
    ("bools-in-fp64", tensor([True] * 16), "data must be numbers, got bool True"),
    ("a-bool-among-numbers", with_value(1, True), "data must be numbers, got bool True"),
    ("object-data", tensor({"MedInc": 1}), "data must be numbers, got dict"),
    ("huge-int", tensor([2**70] * 8, [1, 8], "INT64"), "integers too large for 64 bits"),
    ("ragged", tensor([ROW, ROW[:7]]), "data is not a rectangular array"),
    ("too-few-values", tensor(ROW, [2, 8]), "shape [2, 8] needs 16 values, data has 8"),
    ("too-many-values", columns(MedInc=inp("MedInc", [1], "FP64", [1.0, 2.0])), "needs 1 values"),
    ("negative-dimension", tensor([], [-1, 8]), "negative dimension"),
    ("column-2d", columns(MedInc=inp("MedInc", [1, 2], "FP64", [1.0, 2.0])), "[N] or [N, 1]"),
    ("tensor-7-wide", tensor(ROWS[:, :7].ravel().tolist(), [2, 7]), "takes [N, 8]"),
    ("tensor-1d", tensor(ROW, [8]), "shape [8]; the model takes [N, 8]"),
    ("row-counts", columns(MedInc=inp("MedInc", [1], "FP64", [1.0])), "inconsistent row counts"),
    ("floats-as-int", columns(HouseAge=inp("HouseAge", [2], "INT32", [4.5, 2.0])), "integers"),
    ("negative-uint", columns(Longitude=inp("Longitude", [2], "UINT8", [-1, -2])), "non-negative"),
    ("int8-300", columns(Population=inp("Population", [2], "INT8", [300, 5])), "300 does not fit datatype INT8 [-128, 127]"),  # noqa: E501
    ("int16-low", columns(Longitude=inp("Longitude", [2], "INT16", [-40_000, 1])), "-40000 does not fit datatype INT16"),  # noqa: E501
    ("uint8-256", columns(HouseAge=inp("HouseAge", [2], "UINT8", [256, 1])), "256 does not fit datatype UINT8 [0, 255]"),  # noqa: E501
    ("nan", with_value(0, float("nan")), "MedInc), row 1: value nan is not a finite number"),
    ("inf", with_value(4, float("inf")), "(Population), row 1: value inf is not a finite"),
    ("minus-inf", with_value(7, float("-inf")), "(Longitude), row 1: value -inf is not a finite"),
    ("huge", with_value(0, 1e308), "value 1e+308 is outside the allowed range [0, 50]"),
    ("negative-rooms", with_value(2, -1.0), "(AveRooms), row 1: value -1.0 is outside"),
    ("latitude-london", with_value(6, 51.5), "51.5 is outside the allowed range [32, 42.5]"),
    ("fp16-overflow", tensor([[1, 2, 3, 1, 99_999, 2, 34, -118]], [1, 8], "FP16"), "value inf"),
    ("empty-batch", tensor([], [0, 8]), "empty batch"),
    ("over-max-rows", tensor([ROW] * 11, [11, 8]), "batch of 11 rows exceeds the limit of 10"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inputs", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_accepted_inputs_decode_to_the_feature_matrix(inputs: Inputs, expected: Any) -> None:
    matrix = decode(inputs, max_rows=10)

    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, expected)


@pytest.mark.parametrize(
    ("inputs", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_inputs_name_the_problem(inputs: Inputs, message: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        decode(inputs, max_rows=10)

    assert message in str(refused.value)


def test_a_range_error_names_feature_row_value_and_range_and_counts_the_rest() -> None:
    data = ROWS.tolist()
    data[1][1], data[0][6] = 500.0, 0.0  # HouseAge and Latitude, rows 1 and 0

    with pytest.raises(InvalidRequestError) as refused:
        decode(columns(np.array(data)), max_rows=10)

    assert str(refused.value) == (
        "feature Latitude, row 0: value 0.0 is outside the allowed range [32, 42.5] "
        "(block group latitude, degrees (California)) (1 more invalid values)"
    )


def test_mlserver_request_inputs_decode_over_rest_and_grpc_alike() -> None:
    rest = RequestInput(name="x", shape=[2, 8], datatype=Datatype.FP64, data=ROWS.tolist())
    grpc = RequestInput.model_construct(
        name="x", shape=[2, 8], datatype="FP64", data=ROWS.ravel().tolist()
    )

    np.testing.assert_array_equal(decode([rest], 10), decode([grpc], 10))


def test_layout_is_told_apart_by_input_names() -> None:
    assert layout(columns()) == "columns"
    assert layout(tensor()) == "tensor"


_LOW = np.array([f.minimum for f in FEATURES])
_HIGH = np.array([f.maximum for f in FEATURES])


@given(st.data())
def test_any_valid_matrix_decodes_unchanged_in_both_layouts(data: st.DataObject) -> None:
    unit = data.draw(arrays(np.float64, st.tuples(st.integers(1, 20), st.just(8)),
                            elements=st.floats(0, 1)))  # fmt: skip
    rows = _LOW + unit * (_HIGH - _LOW)

    np.testing.assert_array_equal(decode(columns(rows), max_rows=20), rows)
    np.testing.assert_array_equal(decode(tensor(rows.tolist(), list(rows.shape)), 20), rows)
