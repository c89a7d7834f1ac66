"""The drift check's Kubernetes calls against the real API server, as the drift pod makes
them: with the retrain trigger ServiceAccount's own token, on the chart's own retrain CronJob
and RBAC. Logged windows -> drift check -> a retrain Job the real Job controller runs; 409
counts as done; the cooldown and a running retrain hold further triggers; a data-quality
failure or reference traffic starts nothing."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert

from core.features import FEATURE_NAMES
from core.predstore import PREDICTIONS, connect
from core.profile import FloatArray, ReferenceProfile, build_profile, with_prediction
from core.settings import Settings
from monitoring.check import Report, RetrainAttempt, run_check
from monitoring.launchers import KubernetesLauncher, job_name
from monitoring.trigger import RetrainRequest
from tests.chart.manifests import render
from tests.cluster.conftest import Namespace
from tests.cluster.kube import REPO, Kube, eventually

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]

WINDOW_S = 3600
CRONJOB = "calhousing-retrain"
TRIGGER = "calhousing-retrain-trigger"
MEDINC = FEATURE_NAMES.index("MedInc")
TRIGGER_ENV = {"CALHOUSING_DRIFT__RETRAIN_TAGS", "CALHOUSING_MONITORING__TRIGGER"}
KSERVE_CRD = REPO.parent / "shared" / "crds" / "serving.kserve.io_inferenceservices.yaml"


def _chart_objects(namespace: str, mode: str) -> list[dict[str, Any]]:
    """What the drift path needs of the release: the retrain CronJob, the trigger's account
    and Roles, and the predictor it rolls out (scaled to zero: only its object is patched)."""
    docs = render({"drift": {"enabled": True}, "serving": {"mode": mode}}, namespace=namespace)
    wanted = {("CronJob", CRONJOB), ("ServiceAccount", TRIGGER), ("InferenceService", "calhousing"),
              ("Deployment", "calhousing-predictor")}  # fmt: skip
    picked = [d for d in docs if d["kind"] in {"Role", "RoleBinding"}
              or (d["kind"], d["metadata"]["name"]) in wanted]  # fmt: skip
    for doc in picked:
        if doc["kind"] == "Deployment":
            doc["spec"]["replicas"] = 0
        if doc["kind"] == "InferenceService":
            doc["spec"]["predictor"]["minReplicas"] = 0
    return picked


@pytest.fixture(scope="module", params=["plain", "kserve"])
def drift_namespace(
    request: pytest.FixtureRequest, kube: Kube, restricted_namespace: Namespace
) -> Iterator[tuple[Namespace, str]]:
    mode: str = request.param
    if mode == "kserve":
        kube.kubectl("apply", "--server-side", "-f", str(KSERVE_CRD))
        eventually(lambda: _established(kube), 60, "the InferenceService CRD established")
    objects = _chart_objects(restricted_namespace.name, mode)
    kube.kubectl("delete", "jobs", "--all", "-n", restricted_namespace.name, "--wait=true")
    kube.apply(objects, "-n", restricted_namespace.name, "--server-side")
    yield restricted_namespace, mode


def _established(kube: Kube) -> bool:
    crd = kube.get("crd", "inferenceservices.serving.kserve.io")
    conditions = crd.get("status", {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def profile(california_xy: tuple[FloatArray, FloatArray]) -> ReferenceProfile:
    x, y = california_xy
    return with_prediction(build_profile(x, FEATURE_NAMES, 10), y, 10)


@pytest.fixture
def cluster(drift_namespace: tuple[Namespace, str]) -> Iterator["Cluster"]:
    namespace, mode = drift_namespace
    yield Cluster(
        namespace.kube, namespace.name, mode, namespace.kube.api_as(TRIGGER, namespace.name)
    )
    namespace.kube.kubectl("delete", "jobs", "--all", "-n", namespace.name, "--wait=true")


class Cluster:
    """The test namespace, seen by the admin (to look) and by the trigger (to act)."""

    def __init__(self, kube: Kube, namespace: str, mode: str, api: Any) -> None:
        self.kube, self.namespace, self.mode, self.api = kube, namespace, mode, api

    def jobs(self) -> list[dict[str, Any]]:
        return self.kube.items("jobs", "-n", self.namespace)

    def cronjob(self) -> dict[str, Any]:
        return self.kube.get("cronjob", CRONJOB, "-n", self.namespace)

    def launcher(self) -> KubernetesLauncher:
        return KubernetesLauncher(self.api, self.namespace, CRONJOB)


def _settings(tmp_path: Path, namespace: str, **drift: Any) -> Settings:
    drift = {"window_s": WINDOW_S, "consecutive": 2, "cooldown_s": 86_400, "launcher": "kubernetes",
             "namespace": namespace, "retrain_cronjob": CRONJOB, **drift}  # fmt: skip
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


def _check(settings: Settings, profile: ReferenceProfile, cluster: Cluster, at: float) -> Report:
    return run_check(settings, profile, "1", cluster.launcher(), now=at)


def test_drift_in_two_windows_creates_one_retrain_job_that_the_job_controller_runs(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, cluster.namespace)
    base = int(time.time() // WINDOW_S) - 10
    first = _check(
        settings, profile, cluster, _log(settings, base, *_traffic(california_xy, 1, 1.8))
    )
    assert first.status == "drift" and first.drifted_features == ["MedInc"]
    assert first.retrain == RetrainAttempt(False, "drift in 1 of the last 2 windows")
    second = _check(
        settings, profile, cluster, _log(settings, base + 1, *_traffic(california_xy, 2, 1.8))
    )
    assert second.retrain and second.retrain.started
    assert second.retrain.name == job_name(CRONJOB, base + 1)
    [job] = cluster.jobs()
    _assert_made_like_kubectl(job, cluster.cronjob(), base + 1)
    name = job["metadata"]["name"]
    pods = ("pods", "-n", cluster.namespace, "-l", f"job-name={name}")
    eventually(lambda: cluster.kube.items(*pods), 60, "the Job controller's pod")
    again = _check(settings, profile, cluster, second.end - 10)  # the same window, checked again
    assert again.retrain and not again.retrain.started
    assert "already started" in again.retrain.reason
    assert len(cluster.jobs()) == 1


def _assert_made_like_kubectl(job: dict[str, Any], cronjob: dict[str, Any], window: int) -> None:
    meta, source = job["metadata"], cronjob["spec"]["jobTemplate"]
    assert meta["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert source["metadata"]["labels"].items() <= meta["labels"].items()
    assert meta["labels"]["calhousing.io/drift-window"] == str(window)
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "CronJob",
        CRONJOB,
        cronjob["metadata"]["uid"],
    )
    template = job["spec"]["template"]
    env = {e["name"]: e.get("value") for e in template["spec"]["containers"][0]["env"]}
    tags = json.loads(env["CALHOUSING_DRIFT__RETRAIN_TAGS"])
    assert tags["trigger.window"] == str(window) and "MedInc" in json.loads(tags["trigger.psi"])
    assert env["CALHOUSING_MONITORING__TRIGGER"] == "drift"
    source_env = {e["name"] for e in source["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert set(env) - source_env == TRIGGER_ENV


def test_a_taken_job_name_counts_as_done(cluster: Cluster) -> None:
    request = RetrainRequest(42, "drift", {"MedInc": 0.5})
    assert cluster.launcher().launch(request).created
    assert not cluster.launcher().launch(request).created  # the API server answered 409
    assert len(cluster.jobs()) == 1


def test_cooldown_and_a_running_retrain_hold_the_next_trigger(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, cluster.namespace, consecutive=1)
    base = int(time.time() // WINDOW_S) - 20
    first = _check(
        settings, profile, cluster, _log(settings, base, *_traffic(california_xy, 3, 1.8))
    )
    assert first.retrain and first.retrain.started
    held = _check(
        settings, profile, cluster, _log(settings, base + 1, *_traffic(california_xy, 4, 1.8))
    )
    assert held.retrain and not held.retrain.started and "cooldown" in held.retrain.reason
    no_cooldown = _settings(tmp_path, cluster.namespace, consecutive=1, cooldown_s=0)
    busy = _check(
        no_cooldown, profile, cluster, _log(settings, base + 2, *_traffic(california_xy, 5, 1.8))
    )
    assert busy.retrain and not busy.retrain.started and "still running" in busy.retrain.reason
    # The running retrain finishes and its TTL removes it: the next drift may start another.
    cluster.kube.kubectl("delete", "jobs", "--all", "-n", cluster.namespace, "--wait=true")
    later = _check(
        no_cooldown, profile, cluster, _log(settings, base + 3, *_traffic(california_xy, 6, 1.8))
    )
    assert later.retrain and later.retrain.started and len(cluster.jobs()) == 1


def test_broken_data_triggers_no_retrain(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, cluster.namespace, consecutive=1)
    base = int(time.time() // WINDOW_S) - 30
    report = _check(
        settings, profile, cluster, _log(settings, base, *_traffic(california_xy, 7, 0.1))
    )
    assert report.status == "quality" and "MedInc" in report.quality_problems[0]
    assert report.retrain is None and not cluster.jobs()


def test_no_drift_on_reference_traffic_starts_nothing(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, cluster.namespace, consecutive=1)
    base = int(time.time() // WINDOW_S) - 40
    report = _check(
        settings, profile, cluster, _log(settings, base, *_traffic(california_xy, 8, 1.0))
    )
    assert report.status == "no_drift" and not cluster.jobs()


def test_the_chart_rbac_lets_the_trigger_check_and_retrain(
    tmp_path: Path, california_xy: Any, profile: ReferenceProfile, cluster: Cluster
) -> None:
    settings = _settings(tmp_path, cluster.namespace, consecutive=1)
    base = int(time.time() // WINDOW_S) - 50
    report = _check(
        settings, profile, cluster, _log(settings, base, *_traffic(california_xy, 9, 1.8))
    )
    assert report.retrain and report.retrain.started
