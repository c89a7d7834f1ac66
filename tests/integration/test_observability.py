"""Observability end to end: a real pipeline pushes to a real Pushgateway, the real server serves
what it promoted, a real Prometheus scrapes both each second with the chart's rules, and every
metric, rule and dashboard query is checked through Prometheus' HTTP API."""

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import grpc
import httpx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import yaml
from mlserver.grpc.dataplane_pb2_grpc import GRPCInferenceServiceStub

from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile, bin_proportions
from core.settings import MonitoringSettings
from core.telemetry import (
    DECISION,
    DRIFT_JOB,
    DURATION,
    HOLDOUT_RMSE,
    LAST_FAILURE,
    LAST_SUCCESS,
    RETRAIN_TRIGGER,
    TRAINING_JOB,
    Sample,
    drift_samples,
    push,
)
from inference.client import (
    GrpcClient,
    InferenceClientError,
    Layout,
    Prediction,
    RestClient,
    grpc_request,
    v2_inputs,
)
from tests.integration.observability_fixtures import Prometheus, Server, Trained
from tests.services import MlflowServer

pytestmark = pytest.mark.integration

Rows = npt.NDArray[np.float64]
CHART_FILES = Path(__file__).resolve().parents[2] / "helm/calhousing/files"
SERVING_METRICS = (
    "calhousing_request_duration_seconds_bucket",
    "calhousing_requests_total",
    "calhousing_rejected_requests_total",
    "calhousing_batch_rows_bucket",
    "calhousing_requests_in_flight",
    "calhousing_predicted_value_bucket",
    "calhousing_feature_bin_total",
    "calhousing_feature_reference_share",
    "calhousing_model_info",
    "calhousing_model_ready",
    "calhousing_model_load_timestamp_seconds",
)
VALID_BATCHES = (1, 1, 4, 16, 1, 32)
"""Rows per valid request, sent over each protocol in each layout."""
ROW = np.array([[8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23]])


def _refusals(rows: Rows) -> dict[str, list[dict[str, Any]]]:
    columns = v2_inputs(rows[:1], "columns")
    latitude = [dict(c, data=[0.0]) if c["name"] == "Latitude" else c for c in columns]
    return {
        "missing_feature": columns[:-1],
        "out_of_range": latitude,
        "dtype": [{"name": "x", "shape": [1, 8], "datatype": "BYTES", "data": ["a"] * 8}],
    }


def _grpc_message(inputs: list[dict[str, Any]], model: str) -> Any:
    request = grpc_request(model, ROW, "columns")
    del request.inputs[:]
    for tensor in inputs:
        inp = request.inputs.add(name=tensor["name"], datatype="FP64", shape=tensor["shape"])
        inp.contents.fp64_contents.extend(tensor["data"])
    return request


@pytest.fixture(scope="module")
def traffic(server: Server, prometheus: Prometheus, california_csv: Path) -> dict[str, Any]:
    """Valid and invalid requests over REST and gRPC; what was sent and predicted. Sent once
    Prometheus has scraped the zeros, so rates and increases see every request."""
    prometheus.wait_for(f'calhousing_feature_bin_total{{model="{server.model}"}}')
    frame = pd.read_csv(california_csv)[list(FEATURE_NAMES)].sample(200, random_state=3)
    matrix = frame.to_numpy(dtype=np.float64)
    sent: list[Rows] = []
    predicted: list[float] = []
    with (
        RestClient(server.http, server.model) as rest,
        GrpcClient(server.grpc, server.model) as rpc,
    ):
        calls: list[Callable[[Rows, Layout], Prediction]] = [rest.infer, rpc.infer]
        start = 0
        for size in VALID_BATCHES:
            for layout in get_args(Layout):
                for infer in calls:
                    batch = matrix[start : start + size]
                    predicted += infer(batch, layout).values.tolist()
                    sent.append(batch)
                    start = (start + size) % 150
        refused = _refusals(matrix)
        for inputs in refused.values():
            with pytest.raises(InferenceClientError):
                rest.send({"inputs": inputs})
        for reason, inputs in refused.items():
            if reason != "dtype":  # BYTES travels in bytes_contents over gRPC; REST covers it
                with pytest.raises(InferenceClientError):
                    rpc.send(_grpc_message(inputs, server.model))
    return {"rows": np.vstack(sent), "predicted": np.array(predicted)}


@pytest.fixture(scope="module")
def drift_scores(
    mlflow: MlflowServer,
    pushgateway: str,
    trained: Trained,
    traffic: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, float]:
    """What the drift check (issue 5) will push: PSI per feature of the served inputs against
    the promoted model's reference profile, and a retrain trigger."""
    import mlflow as mlflow_api

    client = mlflow_api.MlflowClient(tracking_uri=mlflow.uri)
    run_id = client.get_model_version(trained.model, trained.version).run_id
    folder = str(tmp_path_factory.mktemp("profile"))
    path = client.download_artifacts(str(run_id), "reference_profile.json", folder)
    profile = ReferenceProfile.model_validate_json(Path(path).read_text())
    scores = {}
    for i, name in enumerate(FEATURE_NAMES):
        column = profile.feature(name)
        live = np.clip(bin_proportions(traffic["rows"][:, i], column.edges), 1e-4, None)
        reference = np.asarray(column.proportions)
        scores[name] = float(np.sum((live - reference) * np.log(live / reference)))
    settings = MonitoringSettings(pushgateway_url=f"http://{pushgateway}")
    group = {"model": trained.model}
    assert push(settings, DRIFT_JOB, group, drift_samples(trained.version, scores, 0.25))
    trigger = Sample(RETRAIN_TRIGGER, time.time(), {"reason": "drift"})
    assert push(settings, DRIFT_JOB, group, [trigger])
    return scores


@pytest.fixture(scope="module")
def observed(
    prometheus: Prometheus, traffic: dict[str, Any], drift_scores: dict[str, float]
) -> Prometheus:
    """Prometheus once it has scraped the traffic and the drift check's push."""
    rows = len(traffic["rows"])
    prometheus.wait_for(f"sum(calhousing_predicted_value_count) == {rows}")
    prometheus.wait_for(f"count(calhousing_drift_score) == {len(drift_scores)}")
    return prometheus


def _one(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _by(result: list[dict[str, Any]], *labels: str) -> dict[tuple[str, ...], float]:
    return {
        tuple(s["metric"].get(label, "") for label in labels): float(s["value"][1]) for s in result
    }


def test_every_serving_metric_is_scraped_under_the_concrete_version(
    observed: Prometheus, server: Server
) -> None:
    for name in SERVING_METRICS:
        series = observed.wait_for(f'{name}{{model="{server.model}"}}')
        assert {s["metric"]["version"] for s in series} == {server.version}, name
    failures = observed.query(f'calhousing_model_load_failures_total{{model="{server.model}"}}')
    assert _one(failures) == 0


def test_requests_are_counted_by_protocol_and_outcome(observed: Prometheus, server: Server) -> None:
    result = observed.query(
        f'sum by (protocol, outcome) (calhousing_requests_total{{model="{server.model}"}})'
    )
    valid = len(VALID_BATCHES) * len(get_args(Layout))
    assert _by(result, "protocol", "outcome") == {
        ("rest", "ok"): valid, ("rest", "rejected"): 3, ("rest", "error"): 0,
        ("grpc", "ok"): valid, ("grpc", "rejected"): 2, ("grpc", "error"): 0,
    }  # fmt: skip


def test_refusals_are_counted_by_reason_and_feature(observed: Prometheus, server: Server) -> None:
    result = observed.query(
        "sum by (reason, feature, protocol) "
        f'(calhousing_rejected_requests_total{{model="{server.model}"}})'
    )
    assert _by(result, "reason", "feature", "protocol") == {
        ("missing_feature", "Longitude", "rest"): 1, ("missing_feature", "Longitude", "grpc"): 1,
        ("out_of_range", "Latitude", "rest"): 1, ("out_of_range", "Latitude", "grpc"): 1,
        ("dtype", "", "rest"): 1,
    }  # fmt: skip


def test_every_input_row_lands_in_a_reference_bin(
    observed: Prometheus, server: Server, traffic: dict[str, Any]
) -> None:
    selector = f'{{model="{server.model}"}}'
    per_feature = observed.query(f"sum by (feature) (calhousing_feature_bin_total{selector})")
    rows = float(len(traffic["rows"]))
    assert _by(per_feature, "feature") == {(name,): rows for name in FEATURE_NAMES}
    shares = observed.query(f"sum by (feature) (calhousing_feature_reference_share{selector})")
    assert _by(shares, "feature") == {(name,): pytest.approx(1.0) for name in FEATURE_NAMES}


def test_the_prediction_histogram_holds_every_predicted_value(
    observed: Prometheus, server: Server, traffic: dict[str, Any]
) -> None:
    predicted = traffic["predicted"]
    total = observed.query(f'calhousing_predicted_value_sum{{model="{server.model}"}}')
    assert _one(total) == pytest.approx(predicted.sum())
    le_1 = observed.query(f'calhousing_predicted_value_bucket{{model="{server.model}", le="1"}}')
    assert _one(le_1) == np.sum(predicted <= 1.0)


def test_latency_quantiles_are_plausible(observed: Prometheus, server: Server) -> None:
    for quantile in (0.5, 0.99):
        result = observed.query(
            f"histogram_quantile({quantile}, sum by (le, protocol) "
            f'(increase(calhousing_request_duration_seconds_bucket{{model="{server.model}"}}[10m])))'
        )
        assert {s["metric"]["protocol"] for s in result} == {"rest", "grpc"}
        assert all(0 < float(s["value"][1]) < 1 for s in result), result


def test_model_info_names_the_run_commit_and_data_it_came_from(
    observed: Prometheus, server: Server, trained: Trained, mlflow: MlflowServer
) -> None:
    import mlflow as mlflow_api

    info = observed.query(f'calhousing_model_info{{model="{server.model}"}}')
    labels = info[0]["metric"]
    version = mlflow_api.MlflowClient(mlflow.uri).get_model_version(trained.model, trained.version)
    assert labels["run_id"] == version.run_id
    assert re.fullmatch(r"[0-9a-f]{40}", labels["git_sha"])
    assert labels["data_version"] == trained.decision["data_version"]
    assert labels["uri"] == f"models:/{trained.model}/{trained.version}"
    loaded = observed.query(f'calhousing_model_load_timestamp_seconds{{model="{server.model}"}}')
    assert time.time() - 900 < _one(loaded) < time.time()


def test_training_pushes_its_outcome_to_the_pushgateway(
    observed: Prometheus, trained: Trained
) -> None:
    group = f'job="{TRAINING_JOB}", model="{trained.model}"'
    success = _one(observed.query(f"{LAST_SUCCESS}{{{group}}}"))
    failure = _one(observed.query(f"{LAST_FAILURE}{{{group}}}"))
    assert time.time() - 900 < failure < success < time.time()
    assert 0 < _one(observed.query(f"{DURATION}{{{group}}}")) < 900
    production = observed.query(f'{HOLDOUT_RMSE}{{{group}, role="production"}}')
    assert production[0]["metric"]["version"] == trained.version
    assert _one(production) == pytest.approx(trained.decision["challenger_holdout_rmse"])
    decision = observed.query(f'{DECISION}{{{group}, outcome="promoted"}}')
    assert decision[0]["metric"]["trigger"] == "schedule"
    assert decision[0]["metric"]["version"] == trained.version
    assert "error: pipeline:" in trained.failed_log  # the failed run told its user, too


def test_drift_scores_arrive_per_feature_under_the_version(
    observed: Prometheus, trained: Trained, drift_scores: dict[str, float]
) -> None:
    scores = observed.query(f'calhousing_drift_score{{model="{trained.model}"}}')
    assert {k[0]: v for k, v in _by(scores, "feature").items()} == pytest.approx(drift_scores)
    assert {s["metric"]["version"] for s in scores} == {trained.version}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((CHART_FILES / "rules/calhousing.rules.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_evaluates_every_rule_without_error(observed: Prometheus) -> None:
    answer = httpx.get(f"{observed.url}/api/v1/rules", timeout=10).json()
    loaded = [rule for group in answer["data"]["groups"] for rule in group["rules"]]
    assert len(loaded) == len(_rules())
    assert [(r["name"], r["lastError"]) for r in loaded if r["health"] != "ok"] == []


def test_every_rule_expression_parses_and_every_recording_rule_returns_data(
    observed: Prometheus, server: Server
) -> None:
    for rule in _rules():
        observed.query(rule["expr"])  # a parse error fails here
        if "record" in rule:
            observed.wait_for(f'{rule["record"]}{{model="{server.model}"}}')


def test_only_the_refusal_alert_wakes_up_on_this_traffic(observed: Prometheus) -> None:
    """5 of 29 requests were refused (over 10 %): that alert is pending; the server is healthy
    and the training fresh, so nothing else is."""
    observed.wait_for('up{job="calhousing-predictor"} == 1')
    alerts = observed.wait_for('ALERTS{alertname="CalhousingRequestsRefused"}')
    assert alerts[0]["metric"]["alertstate"] == "pending"  # `for: 15m`
    assert observed.query('ALERTS{alertname!="CalhousingRequestsRefused"}') == []


def _dashboard_queries() -> list[tuple[str, str, str]]:
    queries = []
    for path in sorted((CHART_FILES / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            queries += [(path.stem, panel["title"], t["expr"]) for t in panel["targets"]]
    return queries


def _substitute(expr: str, model: str) -> str:
    values = {
        "$namespace": ".*", "$model": model, "$version": ".*", "$feature": "MedInc",
        "$__rate_interval": "1m", "$__range": "10m",
    }  # fmt: skip
    for variable in sorted(values, key=len, reverse=True):
        expr = expr.replace(variable, values[variable])
    return expr


def test_every_dashboard_query_parses_and_returns_data(
    observed: Prometheus, server: Server
) -> None:
    queries = _dashboard_queries()
    assert len(queries) > 30
    empty = []
    for board, title, expr in queries:
        query = _substitute(expr, server.model)
        assert "$" not in query, f"{board}/{title}: unknown variable in {query}"
        try:
            observed.wait_for(query, timeout_s=15)
        except AssertionError:
            empty.append(f"{board}/{title}: {query}")
    assert empty == []


def _infer(server: Server, body: dict[str, Any], **headers: str) -> httpx.Response:
    url = f"{server.http}/v2/models/{server.model}/infer"
    return httpx.post(url, json=body, headers=headers, timeout=10)


def test_the_request_id_is_returned_and_logged_as_json(server: Server) -> None:
    inputs = v2_inputs(ROW, "columns")
    answer = _infer(server, {"id": "req-observed-1", "inputs": inputs})
    assert answer.json()["id"] == answer.headers["x-request-id"] == "req-observed-1"
    proxied = _infer(server, {"inputs": inputs}, **{"x-request-id": "from-the-ingress"})
    generated = proxied.json()["id"]
    assert proxied.headers["x-request-id"] == generated != ""
    refused = _infer(server, {"id": "req-refused", "inputs": inputs[:-1]})
    assert refused.status_code == 400
    assert "(request id req-refused)" in refused.json()["error"]
    request = grpc_request(server.model, ROW, "tensor")
    request.id = "req-grpc-1"
    with grpc.insecure_channel(server.grpc) as channel:
        _, call = GRPCInferenceServiceStub(channel).ModelInfer.with_call(request, timeout=10)
        assert ("x-request-id", "req-grpc-1") in tuple(call.trailing_metadata())
    logged = _request_lines(server.log, "req-grpc-1")
    assert logged["req-observed-1"] | {
        "model": server.model, "version": server.version, "protocol": "rest",
        "outcome": "ok", "rows": 1,
    } == logged["req-observed-1"]  # fmt: skip
    assert logged["req-refused"]["reason"] == "missing_feature"
    assert logged["req-grpc-1"]["protocol"] == "grpc"
    assert logged[generated]["proxy_request_id"] == "from-the-ingress"


def _request_lines(log: Path, last_id: str) -> dict[str, dict[str, Any]]:
    """The JSON request lines of the server's log by request id, once `last_id` is written."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        by_id = {line["request_id"]: line for line in lines if "request_id" in line}
        if last_id in by_id or time.monotonic() > deadline:
            return by_id
        time.sleep(0.2)
