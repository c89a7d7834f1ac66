"""Decode and validate V2 inference inputs into the model's float64 matrix, nothing else.

Two request layouts are accepted: one input per feature column (`MedInc`, ... each of shape
[N] or [N, 1]), or a single input of shape [N, 8] in `FEATURE_NAMES` order, whatever its name.
Anything the model should not see (unknown columns, strings, NaN, 1e308, a ragged tensor) is
refused here with a message naming the input, the row and the rule, so the runtime can answer
400 instead of a 500 or, worse, a silent nonsense prediction.

Pure: no MLServer import, no I/O. It reads any object shaped like a V2 tensor (MLServer's
`RequestInput`, whose `datatype` is an enum over REST and a plain string over gRPC).
"""

from collections.abc import Sequence
from itertools import chain
from math import prod
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import CalhousingError
from core.features import FEATURE_NAMES, FEATURES

Layout = Literal["columns", "tensor"]
Matrix = npt.NDArray[np.float64]

FLOAT_TYPES: Final = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
INT_TYPES: Final = frozenset({"INT8", "INT16", "INT32", "INT64"})
UINT_TYPES: Final = frozenset({"UINT8", "UINT16", "UINT32", "UINT64"})
NUMERIC_TYPES: Final = frozenset(FLOAT_TYPES) | INT_TYPES | UINT_TYPES

_FEATURE_SET: Final = frozenset(FEATURE_NAMES)
_FLOAT: Final = frozenset({float})
_MINIMA: Final = np.array([f.minimum for f in FEATURES])
_MAXIMA: Final = np.array([f.maximum for f in FEATURES])
_LAYOUTS: Final = (
    f"send one input per feature ({', '.join(FEATURE_NAMES)}) "
    f"or a single input of shape [N, {len(FEATURE_NAMES)}] in that order"
)


Reason = Literal[
    "no_inputs",
    "unknown_input",
    "mixed_layouts",
    "duplicate_input",
    "missing_feature",
    "dtype",
    "shape",
    "row_count",
    "empty_batch",
    "batch_too_large",
    "not_finite",
    "out_of_range",
    "content_type",
    "unknown_output",
]


class InvalidRequestError(CalhousingError):
    """The request breaks the model's input contract; the message says where and why.

    `reason` and `feature` are for metrics: a fixed vocabulary, and a feature of the contract
    or "" (never a name the client made up, which would let clients grow label cardinality).
    """

    def __init__(self, message: str, reason: Reason, feature: str = "") -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.feature = feature if feature in FEATURE_NAMES else ""


class Tensor(Protocol):
    """The fields of a V2 request input that decoding reads."""

    @property
    def name(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def datatype(self) -> Any: ...
    @property
    def data(self) -> Any: ...


def decode(inputs: Sequence[Tensor], max_rows: int) -> Matrix:
    """The [N, 8] float64 matrix in feature order, or `InvalidRequestError`."""
    plain = _plain_columns(inputs)
    if plain is not None:
        _check_rows(len(plain), max_rows)
        _check_values(plain, None)
        return plain
    if layout(inputs) == "columns":
        matrix, tensor = _decode_columns(inputs), None
    else:
        matrix, tensor = _decode_tensor(inputs[0]), inputs[0].name
    _check_rows(len(matrix), max_rows)
    _check_values(matrix, tensor)
    return matrix


def _plain_columns(inputs: Sequence[Tensor]) -> Matrix | None:
    """The common request, decoded in one numpy call: each feature once, FP64, shape [N] with
    the same N, flat data of floats only. None for anything else, which the full path below
    decodes or refuses with its reason (its per-input checks cost ~10 us a column)."""
    if len(inputs) != len(FEATURE_NAMES):
        return None
    by_name = {inp.name: inp for inp in inputs}
    if by_name.keys() != _FEATURE_SET:
        return None
    ordered = [by_name[name] for name in FEATURE_NAMES]
    columns = [getattr(inp.data, "root", inp.data) for inp in ordered]
    rows = len(columns[0]) if type(columns[0]) is list else -1
    for inp, column in zip(ordered, columns, strict=True):
        datatype = getattr(inp.datatype, "value", inp.datatype)
        if datatype != "FP64" or type(column) is not list or list(inp.shape) != [rows]:
            return None
    # bool and int are not float: true, 1 and 10**30 take the full path and its rules.
    if rows == 0 or not set(map(type, chain.from_iterable(columns))) <= _FLOAT:
        return None
    return np.ascontiguousarray(np.array(columns, dtype=np.float64).T)


def layout(inputs: Sequence[Tensor]) -> Layout:
    """Which layout the inputs follow; refuses empty, unknown and mixed ones."""
    if not inputs:
        raise InvalidRequestError(f"the request has no inputs: {_LAYOUTS}", "no_inputs")
    names = [inp.name for inp in inputs]
    if len(inputs) == 1 and names[0] not in FEATURE_NAMES:
        return "tensor"
    unknown = [inp for inp in inputs if inp.name not in FEATURE_NAMES]
    if len(unknown) < len(inputs) and any(_is_matrix(u.shape) for u in unknown):
        raise InvalidRequestError(
            f"mixed layouts: input {unknown[0].name!r} is a tensor but other inputs are "
            f"feature columns; {_LAYOUTS}",
            "mixed_layouts",
        )
    if unknown:
        raise InvalidRequestError(
            f"unknown inputs {[u.name for u in unknown]}: {_LAYOUTS}", "unknown_input"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidRequestError(
            f"inputs {duplicates} appear more than once", "duplicate_input", duplicates[0]
        )
    missing = [name for name in FEATURE_NAMES if name not in names]
    if missing:
        raise InvalidRequestError(
            f"missing features {missing}: {_LAYOUTS}", "missing_feature", missing[0]
        )
    return "columns"


def _is_matrix(shape: Sequence[int]) -> bool:
    return len(shape) == 2 and shape[1] == len(FEATURE_NAMES)


def _decode_columns(inputs: Sequence[Tensor]) -> Matrix:
    columns = {inp.name: _column(inp) for inp in inputs}
    rows = {name: len(values) for name, values in columns.items()}
    if len(set(rows.values())) > 1:
        raise InvalidRequestError(
            f"inconsistent row counts between feature columns: {rows}", "row_count"
        )
    return np.column_stack([columns[name] for name in FEATURE_NAMES])


def _column(inp: Tensor) -> Matrix:
    shape = list(inp.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InvalidRequestError(
            f"input {inp.name!r}: shape {shape}; a feature column is [N] or [N, 1]",
            "shape",
            inp.name,
        )
    return array(inp).reshape(-1)


def _decode_tensor(inp: Tensor) -> Matrix:
    shape = list(inp.shape)
    if not _is_matrix(shape):
        raise InvalidRequestError(
            f"input {inp.name!r}: shape {shape}; the model takes [N, {len(FEATURE_NAMES)}] "
            f"with columns {', '.join(FEATURE_NAMES)}",
            "shape",
        )
    return array(inp)


def array(inp: Tensor) -> Matrix:
    """One input's data as float64 in its declared shape (data may be flat or nested)."""
    datatype = str(getattr(inp.datatype, "value", inp.datatype))
    if datatype not in NUMERIC_TYPES:
        raise InvalidRequestError(
            f"input {inp.name!r}: datatype {datatype} is not accepted; "
            f"send numbers as one of {', '.join(sorted(NUMERIC_TYPES))}",
            "dtype",
            inp.name,
        )
    shape = [int(n) for n in inp.shape]
    if any(n < 0 for n in shape):
        raise InvalidRequestError(
            f"input {inp.name!r}: shape {shape} has a negative dimension", "shape", inp.name
        )
    values = _numbers(inp.name, datatype, getattr(inp.data, "root", inp.data))
    if values.size != prod(shape):
        raise InvalidRequestError(
            f"input {inp.name!r}: shape {shape} needs {prod(shape)} values, data has {values.size}",
            "shape",
            inp.name,
        )
    return values.reshape(shape)


def _numbers(name: str, datatype: str, data: Any) -> Matrix:
    try:
        raw = np.asarray(data)
    except ValueError:  # ragged nesting: numpy refuses to guess a shape
        raise InvalidRequestError(
            f"input {name!r}: data is not a rectangular array", "shape", name
        ) from None
    # Kind, not a cast: np.asarray(["1.5"], float) would quietly accept strings. Booleans
    # mixed with numbers become 1.0 and 0.0, so JSON `true` needs looking for in the data.
    if raw.dtype.kind not in "iuf" or _has_bool(data):
        raise InvalidRequestError(
            f"input {name!r}: data must be numbers, got {_example(data)}", "dtype", name
        )
    if datatype in INT_TYPES | UINT_TYPES and raw.dtype.kind == "f":
        raise InvalidRequestError(
            f"input {name!r}: datatype {datatype} needs integers in data", "dtype", name
        )
    if datatype in UINT_TYPES and raw.size and raw.min() < 0:
        raise InvalidRequestError(
            f"input {name!r}: datatype {datatype} needs non-negative integers", "dtype", name
        )
    if datatype in INT_TYPES | UINT_TYPES and raw.size:
        _check_int_range(name, datatype, raw)
    # Round through the declared float type so REST (JSON decimals) and gRPC (fp32_contents)
    # give the same matrix for the same FP32 request. A value the type cannot hold becomes
    # inf, which the range check then refuses by name.
    with np.errstate(over="ignore"):
        declared = raw.astype(FLOAT_TYPES.get(datatype, np.float64))
    return declared.astype(np.float64).reshape(-1)


def _check_int_range(name: str, datatype: str, raw: Matrix) -> None:
    """INT8 300 is not an INT8: refused, not wrapped or widened (gRPC carries INT8 in int32)."""
    info = np.iinfo(datatype.lower())  # numpy names them int8 ... uint64
    low, high = raw.min(), raw.max()
    if low < info.min or high > info.max:
        value = low if low < info.min else high
        raise InvalidRequestError(
            f"input {name!r}: value {value} does not fit datatype {datatype} "
            f"[{info.min}, {info.max}]",
            "dtype",
            name,
        )


def _has_bool(data: Any) -> bool:
    if not isinstance(data, list) or not data:
        return False
    if isinstance(data[0], list):
        return any(map(_has_bool, data))
    return bool in set(map(type, data))  # one C-speed pass: ~0.5 us for a row of 8


def _example(data: Any) -> str:
    """The first value that is not a number, for the error message (error path only)."""
    stack = [data]
    while stack:
        value = stack.pop(0)
        if isinstance(value, list | tuple):
            stack[:0] = value
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return f"{type(value).__name__} {value!r}"[:80]
    return "integers too large for 64 bits"


def _check_rows(rows: int, max_rows: int) -> None:
    if rows == 0:
        raise InvalidRequestError("empty batch: send at least one row", "empty_batch")
    if rows > max_rows:
        raise InvalidRequestError(
            f"batch of {rows} rows exceeds the limit of {max_rows}; split it", "batch_too_large"
        )


def _check_values(matrix: Matrix, tensor: str | None) -> None:
    # NaN fails both comparisons, so one mask catches NaN, +-inf and out-of-range values.
    bad = ~((matrix >= _MINIMA) & (matrix <= _MAXIMA))
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    row, col = int(rows[0]), int(cols[0])
    feature, value = FEATURES[col], float(matrix[row, col])
    where = f"feature {feature.name}"
    if tensor is not None:
        where = f"input {tensor!r} column {col} ({feature.name})"
    finite = bool(np.isfinite(value))
    reason: Reason = "out_of_range" if finite else "not_finite"
    problem = "is outside the allowed range" if finite else "is not a finite number; allowed range"
    more = f" ({len(rows) - 1} more invalid values)" if len(rows) > 1 else ""
    raise InvalidRequestError(
        f"{where}, row {row}: value {value!r} {problem} "
        f"[{feature.minimum:g}, {feature.maximum:g}] ({feature.description}){more}",
        reason,
        feature.name,
    )
