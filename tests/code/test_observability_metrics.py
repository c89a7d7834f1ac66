"""The pure parts of observability: refusal reasons, bin and bucket counting, transport and
request-id rules, JSON log lines, best-effort pushes, and what a training decision pushes."""

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlserver.types import RequestInput
from prometheus_client import REGISTRY

from core.features import FEATURE_NAMES
from core.profile import bin_counts, build_profile
from core.settings import MonitoringSettings
from core.telemetry import (
    DURATION,
    HOLDOUT_RMSE,
    LAST_FAILURE,
    JsonFormatter,
    Sample,
    batch_job,
    push,
    registry_of,
)
from inference import metrics, tracing
from inference.codec import InvalidRequestError, decode
from inference.distributions import Distributions
from tests.services import free_port
from training.decision_push import decision_sample, rmse_samples
from training.records import Decision

ROW = [8.3, 41.0, 7.0, 1.0, 322.0, 2.5, 37.9, -122.2]


Inputs = list[RequestInput]


def inp(name: str, data: list[Any], shape: list[int], datatype: str = "FP64") -> RequestInput:
    """MLServer's own RequestInput, unvalidated, as its gRPC path builds it."""
    return RequestInput.model_construct(name=name, shape=shape, datatype=datatype, data=data)


def _columns(**override: list[Any]) -> Inputs:
    return [
        inp(n, override.get(n, [v]), [len(override.get(n, [v]))])
        for n, v in zip(FEATURE_NAMES, ROW, strict=True)
    ]


@pytest.mark.parametrize(
    ("inputs", "reason", "feature"),
    [
        ([], "no_inputs", ""),
        (_columns()[:-1], "missing_feature", "Longitude"),
        ([*_columns(), inp("extra", [1.0], [1])], "unknown_input", ""),
        ([inp("x", ["a"] * 8, [1, 8], "BYTES")], "dtype", ""),
        (_columns(MedInc=["a"]), "dtype", "MedInc"),
        ([inp("x", ROW[:7], [1, 7])], "shape", ""),
        ([inp("x", ROW, [2, 8])], "shape", ""),
        (_columns(MedInc=[1.0, 2.0]), "row_count", ""),
        (_columns(Latitude=[0.0]), "out_of_range", "Latitude"),
        ([inp("x", [*ROW[:4], float("inf"), *ROW[5:]], [1, 8])], "not_finite", "Population"),
        ([inp("x", [], [0, 8])], "empty_batch", ""),
        ([inp("x", ROW * 3, [3, 8])], "batch_too_large", ""),
    ],
)
def test_every_refusal_carries_a_machine_reason_and_a_contract_feature(
    inputs: Inputs, reason: str, feature: str
) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        decode(inputs, max_rows=2)
    assert (refused.value.reason, refused.value.feature) == (reason, feature)


def test_a_client_chosen_input_name_never_becomes_a_feature_label() -> None:
    error = InvalidRequestError("bad", "shape", feature="anything-a-client-sends")
    assert error.feature == ""


def _families(distributions: Distributions) -> dict[str, Any]:
    return {f.name: f for f in distributions.families()}


def test_inputs_are_counted_in_the_profiles_bins_and_predictions_in_buckets() -> None:
    rng = np.random.default_rng(0)
    training = rng.uniform(1, 10, size=(500, len(FEATURE_NAMES)))
    profile = build_profile(training, FEATURE_NAMES, bins=5)
    live = rng.uniform(0, 12, size=(40, len(FEATURE_NAMES)))
    predicted = np.array([0.1, 1.0, 1.0001, 4.9, 7.0])
    distributions = Distributions(("m", "3"), profile)
    distributions.observe(live, predicted)
    distributions.observe(live, predicted)
    families = _families(distributions)
    observed = {
        (s.labels["feature"], s.labels["bin"]): s.value
        for s in families["calhousing_feature_bin"].samples
    }
    for i, name in enumerate(FEATURE_NAMES):
        expected = 2 * bin_counts(live[:, i], profile.feature(name).edges)
        assert [observed[(name, f"{b:02d}")] for b in range(len(expected))] == expected.tolist()
    buckets = {
        s.labels["le"]: s.value
        for s in families["calhousing_predicted_value"].samples
        if s.name.endswith("_bucket")
    }
    # `le` is inclusive: 1.0 counts under le="1", 1.0001 does not.
    assert (buckets["0.25"], buckets["1"], buckets["1.25"], buckets["5"], buckets["+Inf"]) == (
        2, 4, 6, 8, 10,
    )  # fmt: skip


def test_reference_shares_name_their_bin_range_and_sum_to_one_per_feature() -> None:
    profile = build_profile(np.arange(100.0).reshape(50, 2).repeat(4, axis=1), FEATURE_NAMES, 4)
    shares = _families(Distributions(("m", "3"), profile))["calhousing_feature_reference_share"]
    medinc = [s for s in shares.samples if s.labels["feature"] == "MedInc"]
    assert sum(s.value for s in medinc) == pytest.approx(1.0)
    assert medinc[0].labels["range"].startswith("[-inf, ")
    assert medinc[-1].labels["range"].endswith(", inf)")


def test_without_a_profile_only_predictions_are_distributed() -> None:
    assert set(_families(Distributions(("m", "3"), None))) == {"calhousing_predicted_value"}


def test_a_reload_of_the_same_version_keeps_its_series_when_the_old_one_unloads() -> None:
    provenance = metrics.Provenance("models:/m/3", "run", "sha", "data")
    old = metrics.ModelMetrics("reload-test", "3", provenance, None)
    new = metrics.ModelMetrics("reload-test", "3", provenance, None)
    old.close()
    ready = REGISTRY.get_sample_value(
        "calhousing_model_ready", {"model": "reload-test", "version": "3"}
    )
    assert ready == 1
    new.close()
    assert (
        REGISTRY.get_sample_value(
            "calhousing_model_ready", {"model": "reload-test", "version": "3"}
        )
        is None
    )


def test_a_request_is_counted_once_with_its_outcome() -> None:
    model = metrics.ModelMetrics("count-test", "7", metrics.Provenance("u", "r", "g", "d"), None)
    with model.request("grpc", "id-1") as request:
        request.reject("dtype", "MedInc")
    with pytest.raises(RuntimeError), model.request("rest", "id-2"):
        raise RuntimeError("boom")
    labels = {"model": "count-test", "version": "7"}
    value = REGISTRY.get_sample_value
    assert (
        value("calhousing_requests_total", labels | {"protocol": "grpc", "outcome": "rejected"})
        == 1
    )
    assert (
        value("calhousing_requests_total", labels | {"protocol": "rest", "outcome": "error"}) == 1
    )
    assert value("calhousing_requests_total", labels | {"protocol": "rest", "outcome": "ok"}) == 0
    assert value("calhousing_requests_in_flight", labels) == 0
    refused = labels | {"protocol": "grpc", "reason": "dtype", "feature": "MedInc"}
    assert value("calhousing_rejected_requests_total", refused) == 1


def test_rest_carries_a_host_header_and_grpc_metadata_does_not() -> None:
    assert tracing.protocol_of({"host": "x", "content-type": "application/json"}) == "rest"
    assert tracing.protocol_of({"user-agent": "grpc-python/1.0"}) == "grpc"


def test_json_log_lines_carry_the_extra_fields_and_the_exception() -> None:
    record = logging.makeLogRecord(
        {"name": "calhousing.requests", "levelname": "INFO", "msg": "inference %s", "args": ("ok",)}
    )
    record.request_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line | {"message": "inference ok", "request_id": "abc", "level": "INFO"} == line
    assert line["time"].endswith("+00:00")
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert "ValueError: bad" in json.loads(JsonFormatter().format(record))["exception"]


def test_json_log_lines_keep_numpy_numbers_as_numbers_and_anything_else_as_text() -> None:
    record = logging.makeLogRecord({"name": "calhousing", "msg": "m"})
    record.rows, record.score, record.path = np.int64(3), np.float64(0.25), Path("/x")
    line = json.loads(JsonFormatter().format(record))
    assert (line["rows"], line["score"], line["path"]) == (3, 0.25, "/x")


def test_pushing_is_off_without_a_url_and_a_dead_gateway_costs_a_warning_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sample = [Sample(DURATION, 1.0)]
    assert push(MonitoringSettings(), "job", {"model": "m"}, sample) is False
    dead = MonitoringSettings(pushgateway_url=f"http://127.0.0.1:{free_port()}", push_timeout_s=2)
    with caplog.at_level(logging.WARNING):
        assert push(dead, "job", {"model": "m"}, sample) is False
    assert "push of job metrics" in caplog.text
    with batch_job(dead, "job", "m"):
        pass  # a dead gateway does not fail the work it reports on
    with pytest.raises(KeyError), batch_job(dead, "job", "m"):
        raise KeyError("the work's own failure still propagates")


def test_a_registry_holds_one_gauge_per_name_with_each_samples_labels() -> None:
    registry = registry_of(
        [Sample(HOLDOUT_RMSE, 0.5, {"version": "2", "role": "production"}),
         Sample(HOLDOUT_RMSE, 0.6, {"version": "3", "role": "challenger"}),
         Sample(LAST_FAILURE, 9.0)]
    )  # fmt: skip
    assert registry.get_sample_value(HOLDOUT_RMSE, {"version": "3", "role": "challenger"}) == 0.6
    assert registry.get_sample_value(LAST_FAILURE) == 9.0


def _decision(outcome: str, champion: str | None) -> Decision:
    return Decision(
        model_name="m", version="5", family="linear", decision=outcome, reason="r",
        challenger_holdout_rmse=0.5,
        champion_version=champion, champion_holdout_rmse=0.4 if champion else None,
        data_version="d",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "champion", "production"),
    [("promoted", "4", ("5", 0.5)), ("rejected", "4", ("4", 0.4)), ("rejected", None, None)],
)
def test_the_production_rmse_is_the_version_holding_the_alias_after_the_decision(
    outcome: str, champion: str | None, production: tuple[str, float] | None
) -> None:
    samples = {
        s.labels["role"]: (s.labels["version"], s.value)
        for s in rmse_samples(_decision(outcome, champion))
    }
    assert samples.pop("challenger") == ("5", 0.5)
    assert samples.get("production") == production
    assert decision_sample(_decision(outcome, champion), "drift", 1.0).labels == {
        "version": "5",
        "trigger": "drift",
    }
