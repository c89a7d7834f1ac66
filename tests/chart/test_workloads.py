"""The workloads as a user relies on them: the retrain CronJob and the initial Job run the same
Job, with the exact failure policies; both serving modes run the same container and probes."""

from collections.abc import Sequence
from typing import Any

import pytest

from tests.chart.manifests import (
    PROFILES,
    Manifest,
    one,
    pod_templates,
    render,
    render_profile,
)

POD_FAILURE_POLICY = {
    "rules": [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "train", "operator": "In", "values": [2]},
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
}


def job_spec(docs: tuple[Manifest, ...], kind: str) -> dict[str, Any]:
    if kind == "CronJob":
        spec: dict[str, Any] = one(docs, "CronJob", "calhousing-retrain")["spec"]["jobTemplate"][
            "spec"
        ]
        return spec
    return dict(first_model_job(docs)["spec"])


def first_model_job(docs: Sequence[Manifest]) -> Manifest:
    [job] = [d for d in docs if d["kind"] == "Job" and "first-model" in d["metadata"]["name"]]
    return job


def train_args(spec: dict[str, Any]) -> list[str]:
    args: list[str] = spec["template"]["spec"]["containers"][0]["args"]
    return args


@pytest.mark.parametrize("profile", PROFILES)
def test_the_retrain_cronjob_is_a_suspended_holder_of_the_job_template(profile: str) -> None:
    spec = one(render_profile(profile), "CronJob", "calhousing-retrain")["spec"]
    assert spec["suspend"] is True
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] >= 10


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_training_jobs_have_the_exact_failure_policies(kind: str) -> None:
    spec = job_spec(render_profile("default"), kind)
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlSecondsAfterFinished"] == 86400
    assert spec["podFailurePolicy"] == POD_FAILURE_POLICY
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_retrain_runs_exactly_what_the_install_ran_but_always_trains(profile: str) -> None:
    docs = render_profile(profile)
    retrain, first = job_spec(docs, "CronJob"), job_spec(docs, "Job")
    assert train_args(retrain) == ["pipeline"]
    assert train_args(first) == ["pipeline", "--unless-served"]
    train_args(first).pop()
    assert retrain == first


def test_the_first_model_job_is_no_hook_and_is_renamed_when_its_spec_changes() -> None:
    job = first_model_job(render_profile("default"))
    assert not any(key.startswith("helm.sh/hook") for key in job["metadata"]["annotations"])
    other = first_model_job(render({"image": {"tag": "other"}}))
    assert other["metadata"]["name"] != job["metadata"]["name"]
    assert len(other["metadata"]["name"]) <= 63


def test_training_writes_relative_paths_into_an_empty_dir() -> None:
    pod = job_spec(render_profile("default"), "CronJob")["template"]["spec"]
    train = next(c for c in pod["containers"] if c["name"] == "train")
    assert train["args"] == ["pipeline"]
    work = next(m for m in train["volumeMounts"] if m["mountPath"] == train["workingDir"])
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == work["name"])


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_both_serving_modes_run_the_same_predictor_container() -> None:
    runtime = one(render_profile("kind-kserve"), "ServingRuntime")["spec"]["containers"][0]
    deployment = one(render_profile("kind-plain"), "Deployment", "calhousing-predictor")
    plain = deployment["spec"]["template"]["spec"]["containers"][0]
    same = (
        "image",
        "args",
        "env",
        "ports",
        "startupProbe",
        "readinessProbe",
        "livenessProbe",
        "securityContext",
    )
    assert {k: runtime[k] for k in same} == {k: plain[k] for k in same}
    assert _env(plain)["CALHOUSING_SERVE__HOST"] == "0.0.0.0"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_predictor_is_ready_only_when_the_model_is(profile: str) -> None:
    docs = render_profile(profile)
    if any(d["kind"] == "ServingRuntime" for d in docs):
        container = one(docs, "ServingRuntime")["spec"]["containers"][0]
    else:
        container = one(docs, "Deployment", "calhousing-predictor")["spec"]["template"]["spec"][
            "containers"
        ][0]
    ready = {"path": "/v2/models/calhousing/ready", "port": 8080}
    assert container["readinessProbe"]["httpGet"] == ready
    assert container["startupProbe"]["httpGet"] == ready
    assert {p["containerPort"] for p in container["ports"]} == {8080, 8081, 8082}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_predictors_prestop_marks_the_workdir_the_server_watches_then_pauses(
    profile: str,
) -> None:
    """inference.drain: the marker is `<CALHOUSING_SERVE__WORKDIR>/draining`."""
    docs = render_profile(profile)
    [pod] = [t for t in pod_templates(docs) if "predictor" in t.source or "Inference" in t.source]
    [container] = pod.spec["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    workdir = _env(container)["CALHOUSING_SERVE__WORKDIR"]
    assert command == ["sh", "-c", f"touch {workdir}/draining && sleep 15"]


def test_kserve_runs_our_runtime_in_raw_deployment_mode() -> None:
    docs = render_profile("kind-kserve")
    isvc, runtime = one(docs, "InferenceService"), one(docs, "ServingRuntime")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["spec"]["predictor"]["model"]["runtime"] == runtime["metadata"]["name"]
    assert isvc["spec"]["predictor"]["model"]["modelFormat"]["name"] in {
        f["name"] for f in runtime["spec"]["supportedModelFormats"]
    }
    assert set(runtime["spec"]["protocolVersions"]) == {"v2", "grpc-v2"}
    assert runtime["spec"]["annotations"]["prometheus.kserve.io/port"] == "8082"
    assert isvc["spec"]["predictor"]["deploymentStrategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_plain_mode_rolls_out_without_losing_capacity() -> None:
    docs = render_profile("kind-plain")
    deployment = one(docs, "Deployment", "calhousing-predictor")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert (
        one(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"]
        == "calhousing-predictor"
    )
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


def test_mlflow_probes_health_and_proxies_artifacts_to_its_volume() -> None:
    deployment = one(render_profile("default"), "Deployment", "calhousing-mlflow")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["mlflow-server"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert _env(container)["CALHOUSING_MLFLOW__ARTIFACTS_DESTINATION"] == "/data/artifacts"
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] == "calhousing-mlflow"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_helm_test_sends_rest_and_grpc_to_the_predictor() -> None:
    pod = one(render_profile("kind-kserve"), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = _env(pod["spec"]["containers"][0])
    assert env["REST_URL"] == "http://calhousing-predictor"
    assert env["GRPC_TARGET"] == "calhousing-grpc:8081"
    assert "ModelInfer" in pod["spec"]["containers"][0]["command"][2]
