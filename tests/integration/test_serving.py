"""The real server, started by the real CLI, against a real registry: V2 REST and gRPC, both
layouts, every refusal as 400 / INVALID_ARGUMENT, and a server that stays healthy after them."""

import contextlib
import json
import math
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from mlserver.grpc import dataplane_pb2 as pb

from core.features import FEATURE_NAMES
from inference.client import GrpcClient, InferenceClientError, Layout, RestClient, v2_inputs
from tests.integration.serving_fixtures import MAX_ROWS, SERVE_ARGV, Served, serve_env
from tests.services import MlflowServer

pytestmark = pytest.mark.integration

ROW = [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]
Tensors = list[dict[str, Any]]


def _columns(rows: list[list[float]] | None = None, **override: list[Any]) -> Tensors:
    rows = rows or [ROW]
    tensors = v2_inputs(np.array(rows), "columns")
    for tensor in tensors:
        if tensor["name"] in override:
            tensor["data"] = override[tensor["name"]]
            tensor["shape"] = [len(tensor["data"])]
    return tensors


def _tensor(data: Any, shape: list[int], datatype: str = "FP64") -> Tensors:
    return [{"name": "features", "shape": shape, "datatype": datatype, "data": data}]


def _with(values: dict[int, float]) -> list[float]:
    return [values.get(i, v) for i, v in enumerate(ROW)]


# One table for both transports: (case, inputs, what the error must say).
BAD_INPUTS: list[tuple[str, Tensors, str]] = [
    ("no-inputs", [], "no inputs"),
    ("missing-feature", _columns()[:-1], "missing features ['Longitude']"),
    ("unknown-feature", [*_columns(), *_tensor([1.0], [1])], "unknown inputs ['features']"),
    ("mixed-layouts", [*_columns()[1:], *_tensor(ROW, [1, 8])], "mixed layouts"),
    ("bool-datatype", _tensor([True] * 8, [1, 8], "BOOL"), "datatype BOOL is not accepted"),
    ("bytes-datatype", _tensor(["1"] * 8, [1, 8], "BYTES"), "datatype BYTES is not accepted"),
    ("shape-vs-count", _tensor(ROW, [2, 8]), "shape [2, 8] needs 16 values, data has 8"),
    ("seven-columns", _tensor(ROW[:7], [1, 7]), "the model takes [N, 8]"),
    ("row-counts", _columns(MedInc=[8.3, 8.3]), "inconsistent row counts"),
    ("nan", _tensor(_with({0: math.nan}), [1, 8]), "MedInc), row 0: value nan is not a finite"),
    ("inf", _tensor(_with({4: math.inf}), [1, 8]), "(Population), row 0: value inf"),
    ("minus-inf", _tensor(_with({7: -math.inf}), [1, 8]), "(Longitude), row 0: value -inf"),
    (
        "huge",
        _tensor(_with({0: 1e308}), [1, 8]),
        "value 1e+308 is outside the allowed range [0, 50]",
    ),
    ("latitude", _columns(Latitude=[0.0]), "feature Latitude, row 0: value 0.0 is outside"),
    ("empty-batch", _tensor([], [0, 8]), "empty batch"),
    ("too-many-rows", _tensor([ROW] * (MAX_ROWS + 1), [MAX_ROWS + 1, 8]), f"limit of {MAX_ROWS}"),
]
# Strict JSON (orjson, as MLServer parses it) has no NaN or infinity: over REST these never
# reach the model's validation and are refused as a malformed body instead.
NON_FINITE = {"nan", "inf", "minus-inf"}
# JSON-only mistakes: gRPC's typed fields cannot even express them.
BAD_JSON: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("strings-in-fp64", {"inputs": _tensor([*ROW[:7], "west"], [1, 8])}, "str 'west'"),
    ("ragged", {"inputs": _tensor([ROW, ROW[:7]], [2, 8])}, "not a rectangular array"),
    ("unknown-datatype", {"inputs": _tensor(ROW, [1, 8], "FP65")}, "inputs.0.datatype"),
    ("no-shape", {"inputs": [{"name": "features", "datatype": "FP64", "data": ROW}]}, "shape"),
    ("malformed-json", b'{"inputs": [', "invalid request body"),
    ("nan-literal", b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", '
                    b'"data": [NaN]}]}', "invalid request body"),
]  # fmt: skip

_FIELDS = {"FP64": "fp64_contents", "BOOL": "bool_contents", "BYTES": "bytes_contents"}


def _grpc(model: str, tensors: Tensors) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model)
    for t in tensors:
        inp = request.inputs.add(name=t["name"], shape=t["shape"], datatype=t["datatype"])
        flat = np.asarray(t["data"], dtype=object).ravel().tolist()
        if t["datatype"] == "BYTES":
            flat = [str(v).encode() for v in flat]
        getattr(inp.contents, _FIELDS[t["datatype"]]).extend(flat)
    return request


@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_rest_predictions_match_the_registered_model(
    rest: RestClient, served: Served, layout: Layout
) -> None:
    model = served.model

    prediction = rest.infer(model.rows, layout)

    np.testing.assert_allclose(prediction.values, model.predict(model.rows), rtol=0, atol=1e-9)
    assert prediction.model_version == model.version
    assert prediction.request_id


@pytest.mark.parametrize("raw", [False, True], ids=["typed", "raw"])
@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_grpc_predictions_match_the_registered_model(
    grpc_client: GrpcClient, served: Served, layout: Layout, raw: bool
) -> None:
    model = served.model

    prediction = grpc_client.infer(model.rows, layout, raw=raw)

    np.testing.assert_allclose(prediction.values, model.predict(model.rows), rtol=0, atol=1e-9)
    assert prediction.model_version == model.version


def test_a_json_body_sent_as_curls_default_form_type_is_answered_as_json(served: Served) -> None:
    """`curl -d` declares application/x-www-form-urlencoded, as Triton's and KServe's curl
    examples post their JSON."""
    url = f"{served.http}/v2/models/{served.model.name}/infer"
    body = json.dumps({"inputs": _columns()}).encode()
    form = {"content-type": "application/x-www-form-urlencoded"}

    answers = [httpx.post(url, content=body, headers=h, timeout=30) for h in (form, {})]

    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert answers[0].json()["outputs"] == answers[1].json()["outputs"]


@pytest.mark.parametrize(
    ("layout", "content_type"), [("columns", "pd"), ("tensor", "np")], ids=["pd", "np"]
)
def test_the_models_own_output_and_content_types_are_answered_over_rest_and_grpc(
    rest: RestClient, grpc_client: GrpcClient, served: Served, layout: Layout, content_type: str
) -> None:
    rows, output = served.model.rows[:2], "median_house_value"
    body = {"inputs": v2_inputs(rows, layout), "outputs": [{"name": output}],
            "parameters": {"content_type": content_type}}  # fmt: skip
    request = _grpc(served.model.name, v2_inputs(rows, layout))
    request.outputs.add(name=output)
    request.parameters["content_type"].string_param = content_type

    by_rest, by_grpc = rest.send(body), grpc_client.send(request)

    expected = served.model.predict(rows)
    np.testing.assert_allclose(by_rest.values, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(by_grpc.values, expected, rtol=0, atol=1e-9)


def test_the_load_log_says_where_the_start_spent_its_time(served: Served) -> None:
    line = next(x for x in served.log.read_text().splitlines() if "loaded models:/" in x)

    phases = re.search(r"in ([\d.]+) s: (.*?)\"", line)
    assert phases, line
    timed = dict(re.findall(r"([a-z][a-z ]*?) ([\d.]+) s", phases.group(2)))
    assert set(timed) == {"resolve", "download forest", "tables", "profile"}
    assert abs(sum(map(float, timed.values())) - float(phases.group(1))) < 0.1


def test_the_start_line_splits_the_start_and_freezes_what_was_loaded(served: Served) -> None:
    line = next(x for x in served.log.read_text().splitlines() if "after the process started" in x)

    found = re.search(
        r"ready ([\d.]+) s .*?: ([\d.]+) s to the load.*, ([\d.]+) s loading; (\d+) obj", line
    )
    assert found, line
    ready, before, loading, frozen = map(float, found.groups())
    assert abs(before + loading - ready) < 0.02
    # MLServer, pydantic and the model are well over 50k objects: frozen, not walked per pass.
    assert frozen > 50_000


def test_the_server_predicts_from_the_forest_file_without_deserializing_the_model(
    served: Served,
) -> None:
    line = next(x for x in served.log.read_text().splitlines() if "loaded models:/" in x)

    assert "forest tables from the file (max difference" in line
    assert "deserialize" not in line


def test_grpc_requests_without_an_id_get_a_fresh_one(
    grpc_client: GrpcClient, served: Served
) -> None:
    rows = served.model.rows[:1]

    first, second = grpc_client.infer(rows), grpc_client.infer(rows)

    assert first.request_id and second.request_id
    assert first.request_id != second.request_id


def test_metadata_names_the_concrete_version(rest: RestClient, served: Served) -> None:
    metadata = rest.metadata()

    assert metadata["versions"] == [served.model.version]
    assert [t["name"] for t in metadata["inputs"]] == list(FEATURE_NAMES)
    assert metadata["outputs"][0]["name"] == "median_house_value"


@pytest.mark.parametrize(("case", "inputs", "expected"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_rest_refuses_bad_input_with_400(
    served: Served, case: str, inputs: Tensors, expected: str
) -> None:
    if case in NON_FINITE:
        expected = "invalid request body"
    _assert_rest_refuses(served, {"inputs": inputs}, expected)


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in BAD_JSON], ids=[c[0] for c in BAD_JSON]
)
def test_rest_refuses_bad_json_with_400(served: Served, body: Any, expected: str) -> None:
    _assert_rest_refuses(served, body, expected)


def _json(body: dict[str, Any] | bytes) -> bytes:
    # Python's json writes NaN and Infinity (httpx refuses to): what a careless client sends.
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _assert_rest_refuses(served: Served, body: dict[str, Any] | bytes, expected: str) -> None:
    url = f"{served.http}/v2/models/{served.model.name}/infer"
    response = httpx.post(url, content=_json(body), timeout=30)

    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert expected in response.json()["error"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("inputs", "expected"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_grpc_refuses_bad_input_with_invalid_argument(
    grpc_client: GrpcClient, served: Served, inputs: Tensors, expected: str
) -> None:
    with pytest.raises(InferenceClientError) as refused:
        grpc_client.send(_grpc(served.model.name, inputs))

    assert refused.value.status == "INVALID_ARGUMENT"
    assert expected in refused.value.message
    assert "Traceback" not in refused.value.message


def test_server_keeps_serving_after_bad_requests(
    rest: RestClient, grpc_client: GrpcClient, served: Served
) -> None:
    for _, inputs, _ in BAD_INPUTS:
        with pytest.raises(InferenceClientError):
            rest.send(_json({"inputs": inputs}))

    assert rest.infer(served.model.rows[:1]).model_version == served.model.version
    assert grpc_client.infer(served.model.rows[:1], "tensor").model_version == served.model.version
    assert httpx.get(served.ready_url).status_code == 200
    assert "Traceback" not in httpx.get(served.ready_url).text


def test_metrics_port_serves_prometheus_metrics(rest: RestClient, served: Served) -> None:
    rest.infer(served.model.rows[:1])

    metrics = httpx.get(served.metrics, timeout=10)

    assert metrics.status_code == 200
    assert f'model_infer_request_success_total{{model="{served.model.name}"' in metrics.text


def test_a_model_uri_that_does_not_resolve_is_never_ready(
    mlflow: MlflowServer, tmp_path: Path
) -> None:
    env = serve_env(mlflow, tmp_path, "calhousing-missing")
    env["CALHOUSING_SERVE__MODEL_URI"] = "models:/calhousing-missing@production"
    ready = (
        f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}/v2/models/calhousing-missing/ready"
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(SERVE_ARGV, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        answers = _ready_answers_until_exit(proc, ready, timeout_s=120)
    finally:
        proc.kill()
        proc.wait()

    assert 200 not in answers
    assert proc.returncode == 1
    assert "does not resolve" in log.read_text()


def _ready_answers_until_exit(
    proc: subprocess.Popen[bytes], url: str, timeout_s: float
) -> set[int]:
    answers: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            answers.add(httpx.get(url, timeout=2).status_code)
        time.sleep(0.2)
    return answers
