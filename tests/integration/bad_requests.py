"""A corpus of malformed V2 requests, over REST and gRPC, each with what the refusal must say.

Every case is a client mistake: the server must answer 4xx (REST, with a V2 `{"error": ...}`
body) or a non-OK gRPC status, naming the problem, never 5xx / INTERNAL / UNKNOWN or a
traceback. Used by tests/integration/test_bad_input_corpus.py and `make reliability`.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from mlserver.grpc import dataplane_pb2 as pb

from core.features import FEATURE_NAMES

ROW: Final = [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]
MAX_ROWS: Final = 100
"""The served model's batch limit in tests.integration.serving_fixtures."""
MAX_BYTES: Final = 8 * 1024 * 1024
"""The default `serve.max_request_bytes`."""
Tensors = list[dict[str, Any]]


@dataclass(frozen=True)
class RestCase:
    name: str
    body: bytes | Callable[[], bytes]
    """The raw body (a callable for big ones, built only when sent)."""
    expected: str
    status: int = 400
    content_type: str | None = "application/json"
    path: str = "/v2/models/{model}/infer"
    method: str = "POST"
    chunked: bool = False

    def content(self) -> bytes:
        return self.body() if callable(self.body) else self.body


@dataclass(frozen=True)
class GrpcCase:
    name: str
    build: Callable[[str], pb.ModelInferRequest] = field(repr=False)
    """The request, given the served model's name."""
    expected: str
    code: str = "INVALID_ARGUMENT"


def columns(rows: list[list[Any]] | None = None, **override: list[Any]) -> Tensors:
    """One FP64 input per feature, with some columns' data replaced."""
    rows = rows or [ROW]
    tensors = [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [r[i] for r in rows]}
        for i, name in enumerate(FEATURE_NAMES)
    ]
    for tensor in tensors:
        if tensor["name"] in override:
            tensor["data"] = override[tensor["name"]]
            tensor["shape"] = [len(tensor["data"])]
    return tensors


def tensor(data: Any, shape: list[int], datatype: str = "FP64", name: str = "x") -> Tensors:
    return [{"name": name, "shape": shape, "datatype": datatype, "data": data}]


def row_with(values: dict[int, Any]) -> list[Any]:
    return [values.get(i, v) for i, v in enumerate(ROW)]


_INT_ROW: Final = [8, 41, 7, 1, 300, 3, 38, -122]
"""A whole-number row whose Population (300) no INT8 holds."""


def body(inputs: Tensors | Any, **extra: Any) -> bytes:
    # Python's json writes NaN and Infinity, as a careless client's library would.
    return json.dumps({"inputs": inputs, **extra}).encode()


def nested(depth: int) -> bytes:
    return b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": ' + (
        b"[" * depth + b"1" + b"]" * depth + b"}]}"
    )


def _column_shape() -> Tensors:
    inputs = columns()
    inputs[0] = {**inputs[0], "shape": [1, 2], "data": [8.3, 8.3]}
    return inputs


# Mistakes both transports can express: (case, inputs, what the refusal must say).
TENSOR_MISTAKES: Final[list[tuple[str, Tensors, str]]] = [
    ("no-inputs", [], "no inputs"),
    ("missing-feature", columns()[:-1], "missing features ['Longitude']"),
    ("unknown-feature", [*columns(), *tensor([1.0], [1])], "unknown inputs ['x']"),
    ("duplicate-feature", [*columns(), columns()[0]], "appear more than once"),
    ("mixed-layouts", [*columns()[1:], *tensor(ROW, [1, 8])], "mixed layouts"),
    ("unicode-name", tensor([1.0], [1], name="MédInc✓"), "the model takes [N, 8]"),
    ("bool-datatype", tensor([True] * 8, [1, 8], "BOOL"), "datatype BOOL is not accepted"),
    ("bytes-datatype", tensor(["1"] * 8, [1, 8], "BYTES"), "datatype BYTES is not accepted"),
    ("int-with-floats", tensor(ROW, [1, 8], "INT64"), "INT64 needs integers"),
    ("count-vs-shape", tensor(ROW, [2, 8]), "shape [2, 8] needs 16 values, data has 8"),
    ("seven-columns", tensor(ROW[:7], [1, 7]), "the model takes [N, 8]"),
    ("nine-columns", tensor([*ROW, 1.0], [1, 9]), "the model takes [N, 8]"),
    ("three-dimensions", tensor(ROW, [1, 1, 8]), "the model takes [N, 8]"),
    ("flat-tensor", tensor(ROW, [8]), "the model takes [N, 8]"),
    ("column-shape", _column_shape(), "a feature column is [N]"),
    ("row-counts", columns(MedInc=[8.3, 8.3]), "inconsistent row counts"),
    ("nan", tensor(row_with({0: math.nan}), [1, 8]), "value nan is not a finite"),
    ("inf", tensor(row_with({4: math.inf}), [1, 8]), "(Population), row 0: value inf"),
    ("minus-inf", tensor(row_with({7: -math.inf}), [1, 8]), "(Longitude), row 0: value -inf"),
    ("huge", tensor(row_with({0: 1e308}), [1, 8]), "1e+308 is outside the allowed range"),
    ("tiny-negative", tensor(row_with({1: -1e-300}), [1, 8]), "HouseAge), row 0"),
    ("latitude-zero", columns(Latitude=[0.0]), "feature Latitude, row 0: value 0.0"),
    ("second-row-bad", tensor([ROW, row_with({2: -5.0})], [2, 8]), "row 1: value -5.0"),
    ("fp16-overflow", tensor(row_with({4: 70000.0}), [1, 8], "FP16"), "value inf"),
    ("int8-overflow", tensor(_INT_ROW, [1, 8], "INT8"), "value 300 does not fit datatype INT8"),
    ("empty-batch", tensor([], [0, 8]), "empty batch"),
    ("too-many-rows", tensor([ROW] * (MAX_ROWS + 1), [MAX_ROWS + 1, 8]), f"limit of {MAX_ROWS}"),
]


_NON_JSON = {"nan", "inf", "minus-inf"}
"""Strict JSON (orjson, as MLServer parses it) has no NaN or infinity: over REST these are a
malformed body, refused before the model's validation."""

REST_CASES: Final[list[RestCase]] = [
    *(
        RestCase(name, body(inputs), "invalid request body" if name in _NON_JSON else expected)
        for name, inputs, expected in TENSOR_MISTAKES
    ),
    # Broken JSON.
    RestCase("truncated-json", b'{"inputs": [', "invalid request body"),
    RestCase("empty-body", b"", "invalid request body"),
    RestCase("null-body", b"null", "invalid request body"),
    RestCase("list-body", b"[]", "invalid request body"),
    RestCase("number-body", b"42", "invalid request body"),
    RestCase("single-quotes", b"{'inputs': []}", "invalid request body"),
    RestCase("trailing-garbage", body(columns()) + b"}}", "invalid request body"),
    RestCase("invalid-utf8", b'{"inputs": [{"name": "\xff\xfe"}]}', "invalid request body"),
    RestCase("deep-nesting", nested(5000), "invalid request body"),
    RestCase("nan-literal", body(tensor([0], [1])).replace(b"[0]", b"[NaN]"), "request body"),
    # Wrong JSON types.
    RestCase("inputs-object", body({}), "inputs"),
    RestCase("inputs-string", body("MedInc"), "inputs"),
    RestCase("input-number", body([1]), "inputs.0"),
    RestCase("name-number", body(tensor(ROW, [1, 8], name=7)), "inputs.0.name"),  # type: ignore[arg-type]
    RestCase("shape-string", body(tensor(ROW, "1x8")), "inputs.0.shape"),  # type: ignore[arg-type]
    RestCase("shape-floats", body(tensor(ROW, [1.5, 8])), "inputs.0.shape"),  # type: ignore[list-item]
    RestCase("no-shape", body([{"name": "x", "datatype": "FP64", "data": ROW}]), "shape"),
    RestCase("datatype-number", body(tensor(ROW, [1, 8], 64)), "inputs.0.datatype"),  # type: ignore[arg-type]
    RestCase("unknown-datatype", body(tensor(ROW, [1, 8], "FP65")), "inputs.0.datatype"),
    RestCase("lowercase-datatype", body(tensor(ROW, [1, 8], "fp64")), "inputs.0.datatype"),
    RestCase("data-string", body(tensor("1,2,3", [1, 8])), "data"),
    RestCase("data-object", body(tensor({"MedInc": 8.3}, [1, 8])), "data"),
    RestCase("string-in-fp64", body(tensor(row_with({7: "west"}), [1, 8])), "str 'west'"),
    RestCase("null-in-fp64", body(tensor(row_with({0: None}), [1, 8])), "NoneType None"),
    RestCase("bool-in-fp64", body(tensor(row_with({0: True}), [1, 8])), "bool True"),
    RestCase("unicode-digit", body(tensor(row_with({1: "٤١"}), [1, 8])), "str '٤١'"),
    RestCase("ragged", body(tensor([ROW, ROW[:7]], [2, 8])), "not a rectangular array"),
    RestCase("negative-shape", body(tensor(ROW, [-1, 8])), "negative dimension"),
    RestCase("huge-shape", body(tensor(ROW, [10**9, 8])), "needs 8000000000 values"),
    RestCase("int-beyond-64-bits", body(tensor(row_with({4: 2**70}), [1, 8])), "outside the"),
    RestCase("uint-negative", body(tensor([1, 2, 3, 4, -5, 6, 7, 8], [1, 8], "UINT32")), "non-neg"),
    # Size, content type, routing.
    RestCase(
        "oversized-body",
        lambda: body(tensor([ROW] * 150_000, [150_000, 8])),  # 12 MB
        f"exceeds the limit of {MAX_BYTES} bytes",
        status=413,
    ),
    RestCase(
        "oversized-chunked",
        lambda: b" " * (MAX_BYTES + 1),
        "a streamed body exceeds the limit",
        status=413,
        chunked=True,
    ),
    RestCase("text-plain", body(columns()), "content type 'text/plain'", 415, "text/plain"),
    RestCase(
        "form-that-is-a-form",
        b"MedInc=8.3&HouseAge=41",
        "invalid request body",
        400,
        "application/x-www-form-urlencoded",
    ),
    RestCase("csv", b"8.3,41,6.9,1.0,322,2.5,37.8,-122.2", "text/csv", 415, "text/csv"),
    RestCase("unknown-model", body(columns()), "not found", 404, path="/v2/models/nope/infer"),
    RestCase(
        "unknown-version",
        body(columns()),
        "not found",
        404,
        path="/v2/models/{model}/versions/999999/infer",
    ),
    RestCase("get-infer", b"", "Method Not Allowed", 405, None, method="GET"),
    RestCase(
        "infer-stream",
        body(columns()),
        "streaming inference is not offered",
        404,
        path="/v2/models/nope/versions/0/infer_stream",
    ),
    RestCase(
        "generate-stream",
        body(columns()),
        "streaming inference is not offered",
        404,
        path="/v2/models/{model}/generate_stream",
    ),
    RestCase("unknown-path", body(columns()), "Not Found", 404, path="/v2/models/{model}/nfer"),
    # What the request asks beside its inputs.
    RestCase(
        "unknown-output", body(columns(), outputs=[{"name": "price"}]), "outputs ['price'] do not"
    ),
    RestCase(
        "string-content-type",
        body(columns(), parameters={"content_type": "str"}),
        "content type 'str' is not supported",
    ),
    RestCase(
        "input-content-type",
        body([{**columns()[0], "parameters": {"content_type": "base64"}}, *columns()[1:]]),
        "input 'MedInc': content type 'base64' is not supported",
    ),
]

_CONTENTS: Final = {
    "FP16": "fp32_contents", "FP32": "fp32_contents", "FP64": "fp64_contents",
    "INT8": "int_contents", "INT64": "int64_contents", "UINT32": "uint_contents",
    "BOOL": "bool_contents",
    "BYTES": "bytes_contents",
}  # fmt: skip


def grpc_request(model: str, inputs: Tensors, version: str = "") -> pb.ModelInferRequest:
    """Typed contents, one field per datatype, as a gRPC client library would fill them."""
    request = pb.ModelInferRequest(model_name=model, model_version=version)
    for t in inputs:
        inp = request.inputs.add(name=t["name"], shape=t["shape"], datatype=t["datatype"])
        flat = np.asarray(t["data"], dtype=object).ravel().tolist()
        if t["datatype"] == "BYTES":
            flat = [str(v).encode() for v in flat]
        if t["datatype"] in ("INT8", "INT64", "UINT32"):  # typed fields cannot carry a fraction
            flat = [int(v) for v in flat]
        getattr(inp.contents, _CONTENTS[t["datatype"]]).extend(flat)
    return request


def _typed(inputs: Tensors) -> Callable[[str], pb.ModelInferRequest]:
    return lambda model: grpc_request(model, inputs)


def raw_request(
    model: str, shape: list[int], buffers: list[bytes], datatype: str = "FP64"
) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="x", shape=shape, datatype=datatype)
    request.raw_input_contents.extend(buffers)
    return request


_ROW_BYTES: Final = np.asarray(ROW, "<f8").tobytes()


def _asking_output(model: str, name: str) -> pb.ModelInferRequest:
    request = grpc_request(model, columns())
    request.outputs.add(name=name)
    return request


def _with_content_type(request: pb.ModelInferRequest, content_type: str) -> pb.ModelInferRequest:
    request.parameters["content_type"].string_param = content_type
    return request


GRPC_CASES: Final[list[GrpcCase]] = [
    *(
        GrpcCase(name, _typed(inputs), expected)
        for name, inputs, expected in TENSOR_MISTAKES
        if name != "int-with-floats"  # int64_contents cannot hold 8.3252
    ),
    GrpcCase(
        "typed-unknown-datatype",
        lambda m: _retyped(grpc_request(m, tensor(ROW, [1, 8])), "FP65"),
        "datatype FP65 is not accepted",
    ),
    GrpcCase(
        "int64-beyond-range",
        lambda m: grpc_request(m, tensor(row_with({4: 2**62}), [1, 8], "INT64")),
        "outside the allowed range",
    ),
    GrpcCase("unknown-output", lambda m: _asking_output(m, "price"), "outputs ['price'] do not"),
    GrpcCase(
        "string-content-type",
        lambda m: _with_content_type(grpc_request(m, columns()), "str"),
        "content type 'str' is not supported",
    ),
    GrpcCase("raw-short", lambda m: raw_request(m, [1, 8], [_ROW_BYTES[:-1]]), "has 63 bytes"),
    GrpcCase("raw-long", lambda m: raw_request(m, [1, 8], [_ROW_BYTES * 2]), "needs 64"),
    GrpcCase("raw-empty", lambda m: raw_request(m, [1, 8], [b""]), "has 0 bytes"),
    GrpcCase(
        "raw-missing-buffer",
        lambda m: _with_raw(grpc_request(m, columns()), 7),
        "7 raw_input_contents for 8 inputs",
    ),
    GrpcCase(
        "raw-extra-buffer",
        lambda m: raw_request(m, [1, 8], [_ROW_BYTES, _ROW_BYTES]),
        "2 raw_input_contents for 1 inputs",
    ),
    GrpcCase(
        "raw-unknown-datatype",
        lambda m: raw_request(m, [1, 8], [_ROW_BYTES], "FP65"),
        "datatype FP65 is not accepted",
    ),
    GrpcCase(
        "raw-bytes-datatype",
        lambda m: raw_request(m, [1, 8], [b"\xff" * 64], "BYTES"),
        "datatype BYTES is not accepted",
    ),
    GrpcCase(
        "raw-negative-shape",
        lambda m: raw_request(m, [-1, 8], [_ROW_BYTES]),
        "negative dimension",
    ),
    GrpcCase(
        "raw-nan",
        lambda m: raw_request(m, [1, 8], [np.asarray(row_with({3: math.nan}), "<f8").tobytes()]),
        "value nan is not a finite",
    ),
    GrpcCase(
        "oversized-message",
        lambda m: raw_request(m, [MAX_BYTES // 64 + 1, 8], [b"\0" * (MAX_BYTES + 64)]),
        "larger than max",
        code="RESOURCE_EXHAUSTED",
    ),
    GrpcCase("unknown-model", lambda m: grpc_request("nope", columns()), "not found", "NOT_FOUND"),
    GrpcCase(
        "unknown-version",
        lambda m: grpc_request(m, columns(), version="999999"),
        "not found",
        "NOT_FOUND",
    ),
    GrpcCase("empty-model-name", lambda m: grpc_request("", columns()), "not found", "NOT_FOUND"),
]


def _retyped(request: pb.ModelInferRequest, datatype: str) -> pb.ModelInferRequest:
    request.inputs[0].datatype = datatype
    return request


def _with_raw(request: pb.ModelInferRequest, buffers: int) -> pb.ModelInferRequest:
    """The typed contents moved to raw buffers, keeping only the first `buffers` of them."""
    raw = [np.asarray(i.contents.fp64_contents, "<f8").tobytes() for i in request.inputs]
    for inp in request.inputs:
        inp.ClearField("contents")
    request.raw_input_contents.extend(raw[:buffers])
    return request
