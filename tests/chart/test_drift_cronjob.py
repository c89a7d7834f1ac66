"""The drift CronJob as the chart renders it: valid, restricted, wired to the prediction log,
the retrain CronJob and the predictor of either serving mode; refused when it cannot work."""

from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.chart.manifests import CHART, one, pod_templates, render
from tests.chart.test_pod_security import restricted_violations


def _drift(mode: str) -> list[dict[str, Any]]:
    return render({"drift": {"enabled": True}, "serving": {"mode": mode}})


def _env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pod = one(docs, "CronJob", "calhousing-drift")["spec"]["jobTemplate"]["spec"]["template"]
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0]["env"]
    }


@pytest.mark.parametrize("mode", ["plain", "kserve"])
def test_the_drift_cronjob_is_valid_and_restricted(mode: str) -> None:
    docs = _drift(mode)
    for kind in ("CronJob", "NetworkPolicy", "Role", "RoleBinding"):
        for doc in (d for d in docs if d["kind"] == kind):
            kubernetes_validate.validate(doc, "1.33", strict=True)
    drift = next(p for p in pod_templates(docs) if p.source == "CronJob/calhousing-drift")
    assert not restricted_violations(drift)
    assert drift.spec["serviceAccountName"] == "calhousing-retrain-trigger"
    values = {"drift": {"enabled": True}, "serving": {"mode": mode}}
    report = helm_python.lint(CHART, values, strict=True, namespace="calhousing")
    assert not [m for m in report["messages"] if m["severity"] >= 2]


@pytest.mark.parametrize("mode", ["plain", "kserve"])
def test_the_check_gets_its_store_and_trigger_and_no_rollout_rights(mode: str) -> None:
    """Serving follows the alias by itself (inference.follow): the check patches nothing."""
    docs = _drift(mode)
    env = _env(docs)
    assert env["CALHOUSING_DRIFT__LAUNCHER"] == "kubernetes"
    assert (
        env["CALHOUSING_DRIFT__RETRAIN_CRONJOB"]
        == one(docs, "CronJob", "calhousing-retrain")["metadata"]["name"]
    )
    assert env["CALHOUSING_PREDLOG__URL"] == (
        "postgresql://predlog:$(PREDLOG_PASSWORD)@calhousing-postgresql:5432/predictions"
    )
    assert not [k for k in env if "ROLLOUT" in k]
    verbs = {v for d in docs if d["kind"] == "Role" for r in d["rules"] for v in r["verbs"]}
    assert "patch" not in verbs


def test_drift_and_quality_outcomes_fail_the_job_without_retries() -> None:
    spec = one(_drift("plain"), "CronJob", "calhousing-drift")["spec"]
    rules = spec["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "drift", "operator": "In", "values": [2, 3, 4]},
    }
    assert spec["concurrencyPolicy"] == "Forbid"


def test_drift_needs_the_bundled_database() -> None:
    values = {"drift": {"enabled": True}, "mlflow": {"backend": {"type": "sqlite"}}}
    with pytest.raises(Exception, match=r"drift\.enabled needs mlflow\.backend\.type postgresql"):
        render(values)


def _predictor_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pod = one(docs, "Deployment", "calhousing-predictor")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {e["name"]: e for e in container["env"]}


def test_the_predictor_logs_to_the_same_store_the_drift_check_reads() -> None:
    docs = _drift("plain")

    predictor_url = _predictor_env(docs)["CALHOUSING_PREDLOG__URL"]["value"]

    assert predictor_url == _env(docs)["CALHOUSING_PREDLOG__URL"]
    assert predictor_url.startswith("postgresql://")


def test_without_the_bundled_database_the_prediction_log_is_off() -> None:
    docs = render({"mlflow": {"backend": {"type": "sqlite"}}, "serving": {"mode": "plain"}})

    assert _predictor_env(docs)["CALHOUSING_PREDLOG__URL"]["value"] == ""
