"""Refusals MLServer 1.7.1 cannot make itself: too-large or non-JSON REST bodies, REST
streaming, malformed raw gRPC buffers.

REST: neither MLServer nor uvicorn limits a request body, so a client can make the server
buffer and parse any amount of JSON. `RequestGuard` answers 413 `{"error": ...}` before parsing,
and 415 to a body declared as something other than JSON (a CSV posted by mistake would otherwise
meet a confusing error or, worse, an answer). A body with no declared type is read as JSON, as
MLServer always has, and so is one declared as a form: `curl -d` sends that type by default, and
Triton's and KServe's curl examples post their JSON so (a real form then fails as bad JSON).
It also answers 404 on REST `infer_stream` and `generate_stream`: MLServer raises its errors
there (unknown model, bad input) after the streaming response has begun, which can only end as
a bare 500 (found by the fuzzer); our model answers one response per request anyway (gRPC
ModelStreamInfer maps its errors properly).
gRPC has its own limit (`grpc_max_message_length`, RESOURCE_EXHAUSTED); the REST limit reuses
that one setting so both protocols refuse the same size.

gRPC raw contents: MLServer unpacks `raw_input_contents` with `struct` before any model code
runs, and answers a buffer of the wrong length (or a missing buffer, or an unknown datatype)
with INTERNAL. `raw_contents_problem` checks the same things first, so the client gets
INVALID_ARGUMENT and a message naming the input.
"""

from collections.abc import Callable
from math import prod
from typing import Any, Final

import numpy as np
from grpc import ServicerContext
from mlserver.errors import InferenceError
from mlserver.grpc import GRPCServer
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.types import InferenceRequest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ITEM_BYTES: Final = {
    name: np.dtype(code).itemsize
    for name, code in {
        "BOOL": "?", "UINT8": "u1", "UINT16": "u2", "UINT32": "u4", "UINT64": "u8",
        "INT8": "i1", "INT16": "i2", "INT32": "i4", "INT64": "i8",
        "FP16": "f2", "FP32": "f4", "FP64": "f8",
    }.items()
}  # fmt: skip
"""Bytes per element of each fixed-size V2 datatype, as MLServer unpacks them."""
JSON: Final = b"application/json"
FORM: Final = b"application/x-www-form-urlencoded"


class RequestGuard:
    """ASGI middleware: refuse a request body over `max_bytes` with 413, declared or streamed,
    a declared non-JSON body with 415, and REST streaming inference with 404."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media == FORM:
                scope = {**scope, "headers": _as_json(scope["headers"])}
                media = JSON
            refusal = self._refusal(str(scope["path"]), media, headers)
            if refusal is None and b"content-length" not in headers:
                # Chunked: read it here, bounded, then hand it on.
                body = await _read(receive, self.max_bytes)
                if body is None:
                    refusal = 413, self._too_large("a streamed body")
                receive = _replay(body or b"")
            if refusal is not None:
                status, error = refusal
                await JSONResponse({"error": error}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(
        self, path: str, media: bytes, headers: dict[bytes, bytes]
    ) -> tuple[int, str] | None:
        if path.endswith("_stream"):  # infer_stream, generate_stream
            return 404, "streaming inference is not offered over REST; POST to .../infer"
        if media and media != JSON:
            shown = media.decode(errors="replace")
            return 415, f"content type {shown!r} is not accepted; send application/json"
        size = int(headers.get(b"content-length", 0))
        if size > self.max_bytes:
            return 413, self._too_large(f"{size} bytes")
        return None

    def _too_large(self, what: str) -> str:
        return (
            f"request body of {what} exceeds the limit of {self.max_bytes} bytes; split the batch"
        )


def _as_json(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, JSON if k == b"content-type" else v) for k, v in headers]


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit`."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # what a finished request's receive() says next
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def raw_contents_problem(request: pb.ModelInferRequest) -> str | None:
    """Why MLServer could not unpack the request's raw buffers, or None if it can."""
    raw = request.raw_input_contents
    if not raw:
        return None
    # As MLServer does: inputs with typed contents keep them, the others take buffers in order.
    needing = [inp for inp in request.inputs if not inp.contents.ListFields()]
    if len(raw) != len(needing):
        return f"{len(raw)} raw_input_contents for {len(needing)} inputs without typed contents"
    for index, (inp, buffer) in enumerate(zip(needing, raw, strict=True)):
        shape = list(inp.shape)
        if inp.datatype not in ITEM_BYTES:
            return (
                f"input {inp.name!r}: datatype {inp.datatype or '(none)'} is not accepted; "
                f"send numbers as one of {', '.join(sorted(ITEM_BYTES))}"
            )
        if any(n < 0 for n in shape):
            return f"input {inp.name!r}: shape {shape} has a negative dimension"
        needed = prod(shape) * ITEM_BYTES[inp.datatype]
        if len(buffer) != needed:
            return (
                f"input {inp.name!r}: raw_input_contents[{index}] has {len(buffer)} bytes; "
                f"shape {shape} of {inp.datatype} needs {needed}"
            )
    return None


Inserter = Callable[[pb.ModelInferRequest, ServicerContext], InferenceRequest]


class CheckedGRPCServer(GRPCServer):  # type: ignore[misc]  # mlserver ships no type hints
    """MLServer's gRPC server, with raw buffers checked before MLServer unpacks them."""

    def _create_server(self) -> Any:
        server = super()._create_server()
        servicer = self._inference_servicer
        # `_InsertHeaders` is where ModelInfer (and the stream) convert the request; MLServer
        # offers no interceptor hook, and an InferenceError raised here becomes INVALID_ARGUMENT.
        servicer._InsertHeaders = _checked(servicer._InsertHeaders)
        return server


def _checked(convert: Inserter) -> Inserter:
    def checked(request: pb.ModelInferRequest, context: ServicerContext) -> InferenceRequest:
        problem = raw_contents_problem(request)
        if problem is not None:
            raise InferenceError(f"invalid raw_input_contents: {problem}")
        return convert(request, context)

    return checked
