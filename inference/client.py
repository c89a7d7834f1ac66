"""A small typed V2 inference client over REST (httpx) and gRPC (MLServer's generated stubs).

Both request layouts are built from the same [N, 8] rows, so callers can check that REST and
gRPC, columns and tensor, all give one answer. Failures raise `InferenceClientError` with
the HTTP status or gRPC code and the server's message.
"""

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import grpc
import httpx
import numpy as np
import numpy.typing as npt
from mlserver.grpc import dataplane_pb2 as pb
from mlserver.grpc.dataplane_pb2_grpc import GRPCInferenceServiceStub

from core.errors import CalhousingError
from core.features import FEATURE_NAMES, TARGET

Layout = Literal["columns", "tensor"]
Rows = npt.NDArray[np.float64]
TENSOR_NAME = "features"


@dataclass(frozen=True)
class Prediction:
    values: Rows
    """One predicted median house value per row, in $100k."""
    model_version: str
    request_id: str


class InferenceClientError(CalhousingError):
    """The server refused or failed a call; `status` is the HTTP status (int) or the gRPC
    code name (str, e.g. "INVALID_ARGUMENT"), None when no answer came back."""

    def __init__(self, message: str, status: int | str | None) -> None:
        super().__init__(f"[{status}] {message}" if status is not None else message)
        self.message, self.status = message, status


def v2_inputs(rows: Rows, layout: Layout) -> list[dict[str, Any]]:
    """The V2 JSON inputs for `rows` ([N, 8] in FEATURE_NAMES order) in either layout."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    if layout == "tensor":
        return [_tensor(TENSOR_NAME, list(rows.shape), rows.ravel().tolist())]
    return [_tensor(name, [len(rows)], rows[:, i].tolist()) for i, name in enumerate(FEATURE_NAMES)]


def _tensor(name: str, shape: list[int], data: list[float]) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": "FP64", "data": data}


def grpc_request(model: str, rows: Rows, layout: Layout, raw: bool = False) -> pb.ModelInferRequest:
    """A ModelInferRequest with typed `fp64_contents`, or `raw_input_contents` when `raw`."""
    request = pb.ModelInferRequest(model_name=model)
    for tensor in v2_inputs(rows, layout):
        inp = request.inputs.add(name=tensor["name"], datatype="FP64", shape=tensor["shape"])
        if raw:
            request.raw_input_contents.append(np.asarray(tensor["data"], "<f8").tobytes())
        else:
            inp.contents.fp64_contents.extend(tensor["data"])
    return request


class RestClient:
    """V2 REST: `http://host:port`, one model."""

    def __init__(self, base_url: str, model: str, timeout_s: float = 30) -> None:
        self.model = model
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s)

    def ready(self) -> bool:
        try:
            return self._http.get(f"/v2/models/{self.model}/ready").status_code == 200
        except httpx.TransportError:
            return False

    def metadata(self) -> dict[str, Any]:
        return self._call("GET", f"/v2/models/{self.model}")

    def infer(self, rows: Rows, layout: Layout = "columns") -> Prediction:
        return self.send({"inputs": v2_inputs(rows, layout)})

    def send(self, body: dict[str, Any] | bytes) -> Prediction:
        """POST any body (a dict as JSON, bytes as they are) to the model's infer endpoint."""
        answer = self._call("POST", f"/v2/models/{self.model}/infer", body)
        output = next(o for o in answer["outputs"] if o["name"] == TARGET.name)
        values = np.asarray(output["data"], dtype=np.float64).reshape(-1)
        return Prediction(values, str(answer.get("model_version")), str(answer.get("id")))

    def _call(
        self, method: str, path: str, body: dict[str, Any] | bytes | None = None
    ) -> dict[str, Any]:
        content = body if isinstance(body, bytes) else None
        json = body if isinstance(body, dict) else None
        headers = {"content-type": "application/json"}
        try:
            response = self._http.request(method, path, content=content, json=json, headers=headers)
        except httpx.TransportError as err:
            raise InferenceClientError(f"{self._http.base_url}{path}: {err}", None) from err
        if response.status_code != 200:
            raise InferenceClientError(_error_text(response), response.status_code)
        answer: dict[str, Any] = response.json()
        return answer

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


class GrpcClient:
    """V2 gRPC: `host:port`, one model, insecure channel (TLS is the ingress's job)."""

    def __init__(self, target: str, model: str, timeout_s: float = 30) -> None:
        self.model, self._timeout = model, timeout_s
        self._channel = grpc.insecure_channel(target)
        self._stub = GRPCInferenceServiceStub(self._channel)

    def ready(self) -> bool:
        try:
            answer = self._stub.ModelReady(pb.ModelReadyRequest(name=self.model), timeout=5)
        except grpc.RpcError:
            return False
        return bool(answer.ready)

    def infer(self, rows: Rows, layout: Layout = "columns", raw: bool = False) -> Prediction:
        return self.send(grpc_request(self.model, rows, layout, raw))

    def send(self, request: pb.ModelInferRequest) -> Prediction:
        try:
            answer = self._stub.ModelInfer(request, timeout=self._timeout)
        except grpc.RpcError as err:
            raise InferenceClientError(str(err.details()), err.code().name) from None
        return Prediction(_grpc_values(answer), answer.model_version, answer.id)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def _grpc_values(answer: pb.ModelInferResponse) -> Rows:
    # MLServer answers in raw_output_contents whenever the request used raw inputs.
    index = next(i for i, o in enumerate(answer.outputs) if o.name == TARGET.name)
    if answer.raw_output_contents:
        return np.frombuffer(answer.raw_output_contents[index], dtype="<f8").copy()
    return np.asarray(answer.outputs[index].contents.fp64_contents, dtype=np.float64)
