"""The drift loop at the HTTP level: logged windows -> drift check -> a retrain Job created
through the official Kubernetes client against a local stand-in of the API, from the chart's
own retrain CronJob. The Job validates against the Kubernetes schema and Pod Security
"restricted"; 409 counts as done; the cooldown and a running retrain hold further triggers;
a data-quality failure triggers nothing; the chart's RBAC allows exactly the calls made."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import numpy as np
import pytest
from sqlalchemy import insert

from calhousing.features import FEATURE_NAMES
from calhousing.predstore import PREDICTIONS, connect
from calhousing.profile import FloatArray, ReferenceProfile, build_profile, with_prediction
from calhousing.settings import Settings
from monitoring.check import Report, run_check
from monitoring.launchers import KubernetesLauncher, job_name
from monitoring.rollout import rollout_for
from monitoring.trigger import RetrainRequest
from tests.chart.manifests import NAMESPACE, PodTemplate, one, render
from tests.chart.test_security import restricted_violations
from tests.integration.kube_standin import Call, Cluster, standin

pytestmark = pytest.mark.integration

WINDOW_S = 3600
CRONJOB = "calhousing-retrain"
MEDINC = FEATURE_NAMES.index("MedInc")
TRIGGER_ENV = {"CALHOUSING_DRIFT__RETRAIN_TAGS", "CALHOUSING_MONITORING__TRIGGER"}


@pytest.fixture(scope="module")
def chart() -> list[dict[str, Any]]:
    return render({"drift": {"enabled": True}, "serving": {"mode": "plain"}})


@pytest.fixture(scope="module")
def profile(california_xy: tuple[FloatArray, FloatArray]) -> ReferenceProfile:
    x, y = california_xy
    return with_prediction(build_profile(x, FEATURE_NAMES, 10), y, 10)


@pytest.fixture
def cluster(chart: list[dict[str, Any]]) -> Cluster:
    cronjob = json.loads(json.dumps(one(chart, "CronJob", CRONJOB)))
    cronjob["metadata"]["uid"] = "5f0c-cronjob-uid"
    return Cluster(objects={("cronjobs", CRONJOB): cronjob})


@pytest.fixture
def api(cluster: Cluster) -> Iterator[Any]:
    with standin(cluster) as api_client:
        yield api_client


def _settings(tmp_path: Path, **drift: Any) -> Settings:
    drift = {"window_s": WINDOW_S, "consecutive": 2, "cooldown_s": 86_400, "launcher": "kubernetes",
             "namespace": NAMESPACE, "retrain_cronjob": CRONJOB, **drift}  # fmt: skip
    return Settings(predlog={"url": f"sqlite:///{tmp_path / 'p.db'}"}, drift=drift)


def _log(settings: Settings, window: int, x: FloatArray, y: FloatArray) -> float:
    """Write rows into `window` as the server would; a time inside it."""
    start = window * WINDOW_S
    rows = [
        {"ts": start + 1 + i, "request_id": f"w{window}-{i}", "row": 0, "model_name": "m",
         "model_version": "1", **dict(zip(FEATURE_NAMES, map(float, xi), strict=True)),
         "prediction": float(yi)}
        for i, (xi, yi) in enumerate(zip(x, y, strict=True))
    ]  # fmt: skip
    with connect(str(settings.predlog.url)).begin() as connection:
        connection.execute(insert(PREDICTIONS), rows)
    return float(start + WINDOW_S - 1)


def _traffic(
    california_xy: tuple[FloatArray, FloatArray], seed: int, shift: float
) -> tuple[FloatArray, FloatArray]:
    x, y = california_xy
    pick = np.random.default_rng(seed).choice(len(x), 400, replace=False)
    shifted = x[pick].copy()
    shifted[:, MEDINC] *= shift
    return shifted, y[pick]


def _check(settings: Settings, profile: ReferenceProfile, api: Any, at: float) -> Report:
    launcher = KubernetesLauncher(api, NAMESPACE, CRONJOB)
    return run_check(settings, profile, "1", launcher, now=at)


def test_drift_in_two_windows_creates_one_valid_retrain_job(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, api: Any, cluster: Cluster
) -> None:
    settings = _settings(tmp_path)
    base = int(time.time() // WINDOW_S) - 10
    first = _check(settings, profile, api, _log(settings, base, *_traffic(california_xy, 1, 1.8)))
    assert first.status == "drift" and first.drifted_features == ["MedInc"]
    assert first.retrain == {"started": False, "reason": "drift in 1 of the last 2 windows"}
    second = _check(
        settings, profile, api, _log(settings, base + 1, *_traffic(california_xy, 2, 1.8))
    )
    assert second.retrain["started"] and second.retrain["name"] == job_name(CRONJOB, base + 1)
    [job] = cluster.jobs()
    _assert_made_like_kubectl(job, cluster.objects[("cronjobs", CRONJOB)], base + 1)
    again = _check(settings, profile, api, second.end - 10)  # the same window, checked again
    assert not again.retrain["started"] and "already started" in again.retrain["reason"]
    assert len(cluster.jobs()) == 1


def _assert_made_like_kubectl(job: dict[str, Any], cronjob: dict[str, Any], window: int) -> None:
    kubernetes_validate.validate(job, "1.33", strict=True)
    template = job["spec"]["template"]
    pod = PodTemplate("Job", template["metadata"]["labels"], {}, template["spec"])
    assert not restricted_violations(pod)
    meta, source = job["metadata"], cronjob["spec"]["jobTemplate"]
    assert meta["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert source["metadata"]["labels"].items() <= meta["labels"].items()
    assert meta["labels"]["calhousing.io/drift-window"] == str(window)
    assert meta["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": CRONJOB, "uid": "5f0c-cronjob-uid",
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    tags = json.loads(env["CALHOUSING_DRIFT__RETRAIN_TAGS"])
    assert tags["trigger.window"] == str(window) and "MedInc" in json.loads(tags["trigger.psi"])
    assert env["CALHOUSING_MONITORING__TRIGGER"] == "drift"
    assert _without(job["spec"], TRIGGER_ENV) == _without(source["spec"], TRIGGER_ENV)


def _without(spec: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """A copy of a Job spec without the named env of its first container."""
    copy: dict[str, Any] = json.loads(json.dumps(spec))
    container = copy["template"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] not in names]
    return copy


def test_a_taken_job_name_counts_as_done(api: Any, cluster: Cluster) -> None:
    launcher = KubernetesLauncher(api, NAMESPACE, CRONJOB)
    request = RetrainRequest(42, "drift", {"MedInc": 0.5})
    assert launcher.launch(request).created
    assert not launcher.launch(request).created  # 409 AlreadyExists
    assert len(cluster.jobs()) == 1


def test_cooldown_and_a_running_retrain_hold_the_next_trigger(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, api: Any, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, consecutive=1)
    base = int(time.time() // WINDOW_S) - 20
    assert _check(
        settings, profile, api, _log(settings, base, *_traffic(california_xy, 3, 1.8))
    ).retrain["started"]
    held = _check(
        settings, profile, api, _log(settings, base + 1, *_traffic(california_xy, 4, 1.8))
    )
    assert not held.retrain["started"] and "cooldown" in held.retrain["reason"]
    no_cooldown = _settings(tmp_path, consecutive=1, cooldown_s=0)
    busy = _check(
        no_cooldown, profile, api, _log(settings, base + 2, *_traffic(california_xy, 5, 1.8))
    )
    assert not busy.retrain["started"] and "still running" in busy.retrain["reason"]
    [job] = cluster.jobs()
    job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    later = _check(
        no_cooldown, profile, api, _log(settings, base + 3, *_traffic(california_xy, 6, 1.8))
    )
    assert later.retrain["started"] and len(cluster.jobs()) == 2


def test_broken_data_triggers_no_retrain(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, api: Any, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, consecutive=1)
    base = int(time.time() // WINDOW_S) - 30
    report = _check(settings, profile, api, _log(settings, base, *_traffic(california_xy, 7, 0.1)))
    assert report.status == "quality" and "MedInc" in report.quality_problems[0]
    assert report.retrain == {} and not cluster.jobs()
    assert Call("create", "batch", "jobs", None) not in cluster.calls


def test_no_drift_on_reference_traffic_calls_no_api(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, api: Any, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, consecutive=1)
    base = int(time.time() // WINDOW_S) - 40
    report = _check(settings, profile, api, _log(settings, base, *_traffic(california_xy, 8, 1.0)))
    assert report.status == "no_drift" and not cluster.calls


@pytest.mark.parametrize("mode", ["plain", "kserve"])
def test_the_chart_rbac_allows_exactly_the_calls_made(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, mode: str
) -> None:
    docs = render({"drift": {"enabled": True}, "serving": {"mode": mode}})
    cronjob = json.loads(json.dumps(one(docs, "CronJob", CRONJOB)))
    cronjob["metadata"]["uid"] = "u"
    kind, resource = ("Deployment", "deployments") if mode == "plain" else (
        "InferenceService", "inferenceservices")  # fmt: skip
    env = {e["name"]: e.get("value") for e in
           one(docs, "CronJob", "calhousing-drift")["spec"]["jobTemplate"]["spec"]["template"]
           ["spec"]["containers"][0]["env"]}  # fmt: skip
    predictor = one(docs, kind, env["CALHOUSING_DRIFT__ROLLOUT_TARGET"])
    cluster = Cluster(objects={("cronjobs", CRONJOB): cronjob,
                               (resource, predictor["metadata"]["name"]): predictor})  # fmt: skip
    settings = _settings(tmp_path, consecutive=1)
    base = int(time.time() // WINDOW_S) - 50
    with standin(cluster) as api:
        _check(settings, profile, api, _log(settings, base, *_traffic(california_xy, 9, 1.8)))
        rollout = _settings(tmp_path, rollout=env["CALHOUSING_DRIFT__ROLLOUT"],
                            rollout_target=env["CALHOUSING_DRIFT__ROLLOUT_TARGET"])  # fmt: skip
        rollout_for(rollout, api).roll("2")
    [(_, _, patch)] = cluster.patches
    assert "calhousing.io/model-version" in json.dumps(patch)
    made = {(c.group, c.resource, c.verb, c.name if c.verb != "create" else None)
            for c in cluster.calls}  # fmt: skip
    allowed = granted(docs, "calhousing-retrain-trigger")
    assert made <= allowed
    # get/watch on Jobs: kept in the trigger's Role for people and CI who follow a retrain.
    assert allowed - made == {("batch", "jobs", "get", None), ("batch", "jobs", "watch", None)}


def granted(docs: list[dict[str, Any]], account: str) -> set[tuple[str, str, str, str | None]]:
    """(group, resource, verb, resourceName or None) the Roles bound to `account` allow."""
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Role"}
    allowed = set()
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        if any(s["name"] == account for s in binding["subjects"]):
            for rule in roles[binding["roleRef"]["name"]]["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for verb in rule["verbs"]:
                            for name in rule.get("resourceNames", [None]):
                                allowed.add((group, resource, verb, name))
    return allowed
