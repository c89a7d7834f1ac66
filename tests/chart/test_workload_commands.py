"""The chart's contract with the code: each rendered workload's command, args and environment,
run as a local process with only addresses, ports and paths rewritten, does its job against
the others. Catches a chart that calls a flag, a subcommand or a setting the code lacks.

Secrets resolve to test values and `$(VAR)` references expand as the kubelet expands them."""

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chart.manifests import REPO, one, profile_values, render
from tests.services import free_port, running

BIN = Path(sys.executable).parent
# The image's ENTRYPOINT and the interpreter on its PATH, as installed in this venv.
EXECUTABLES = {"calhousing": str(BIN / "calhousing"), "python": sys.executable}
SECRETS = {
    ("calhousing-postgresql", "password"): "not-used-locally",
    ("calhousing-postgresql", "predlog-password"): "not-used-locally",
}
# Keep the test workload small: one fast model family instead of params.yaml's three.
BUDGET = {"CALHOUSING_TRAIN__FAMILIES": '["linear"]', "CALHOUSING_TRAIN__N_JOBS": "1"}

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Process:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _value(entry: dict[str, Any], env: dict[str, str]) -> str:
    if "valueFrom" in entry:
        ref = entry["valueFrom"]["secretKeyRef"]
        return SECRETS[(ref["name"], ref["key"])]
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), str(entry["value"]))


def as_process(container: dict[str, Any], rewrite: dict[str, str], root: Path) -> Process:
    """The container as a local process: entrypoint/command mapped to this venv, env rewritten."""
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        env[entry["name"]] = _value(entry, env)
    assert set(rewrite) - set(env) <= set(BUDGET), (
        f"rewrites of unknown env {set(rewrite) - set(env)}"
    )
    command = container.get("command", ["calhousing"])
    argv = [EXECUTABLES.get(command[0], command[0]), *command[1:], *container.get("args", [])]
    cwd = root / container.get("workingDir", "/").strip("/")
    cwd.mkdir(parents=True, exist_ok=True)
    path_env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(root / "tmp"),
        "CALHOUSING_PARAMS": str(REPO / "params.yaml"),
    }
    return Process(argv, {**env, **path_env, **rewrite}, cwd)


def run(process: Process, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        process.argv,
        env=process.env,
        cwd=process.cwd,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def containers(docs: list[dict[str, Any]], kind: str, name: str) -> list[dict[str, Any]]:
    pod = one(docs, kind, name)["spec"]
    pod = (
        pod["jobTemplate"]["spec"]["template"]["spec"]
        if kind == "CronJob"
        else pod.get("template", {}).get("spec", pod)
    )
    return [*pod.get("initContainers", []), *pod["containers"]]


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(profile_values("kind-plain"))


@pytest.fixture(scope="module")
def mlflow_uri(
    docs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-pod")
    # The init container (predlog-provision) needs the PostgreSQL server, which is not here:
    # test_the_mlflow_init_container_calls_a_real_command checks it exists.
    *_, server = containers(docs, "Deployment", "calhousing-mlflow")
    port = free_port()
    process = as_process(
        server,
        {
            "CALHOUSING_MLFLOW__HOST": "127.0.0.1",
            "CALHOUSING_MLFLOW__PORT": str(port),
            # The PostgreSQL StatefulSet is not here: a local file stands in for the database.
            "CALHOUSING_MLFLOW__BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}",
            "CALHOUSING_MLFLOW__ARTIFACTS_DESTINATION": str(root / "data" / "artifacts"),
        },
        root,
    )
    health = server["readinessProbe"]["httpGet"]["path"]
    with _running(process, f"http://127.0.0.1:{port}{health}", root / "mlflow.log"):
        yield f"http://127.0.0.1:{port}"


def _running(process: Process, url: str, log: Path) -> Any:
    # tests.services.running takes argv only: wrap env and cwd with /usr/bin/env.
    argv = [
        "/usr/bin/env",
        "-i",
        "-C",
        str(process.cwd),
        *(f"{k}={v}" for k, v in process.env.items()),
        *process.argv,
    ]
    return running(argv, url, log, timeout_s=240)


def test_mlflow_accepts_the_in_cluster_host_names_the_chart_gives_it(mlflow_uri: str) -> None:
    search = f"{mlflow_uri}/api/2.0/mlflow/experiments/search?max_results=1"
    assert (
        httpx.get(search, headers={"Host": "calhousing-mlflow:5000"}, timeout=60).status_code == 200
    )
    assert (
        httpx.get(search, headers={"Host": "calhousing-mlflow.calhousing.svc"}).status_code == 200
    )
    assert httpx.get(search, headers={"Host": "evil.example.com"}).status_code == 403


@pytest.fixture(scope="module")
def training(
    docs: list[dict[str, Any]],
    mlflow_uri: str,
    california_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """The retrain Job's init container, then its training container."""
    root = tmp_path_factory.mktemp("training-pod")
    wait, train = containers(docs, "CronJob", "calhousing-retrain")
    address = {"CALHOUSING_MLFLOW__TRACKING_URI": mlflow_uri}
    waited = run(as_process(wait, address, root), timeout_s=60)
    # The PostgreSQL StatefulSet is not here: a local file stands in for the prediction log.
    predlog = {"CALHOUSING_PREDLOG__URL": f"sqlite:///{root / 'predictions.db'}"}
    rewrite = {**address, "CALHOUSING_DATA__SOURCE": str(california_csv), **predlog, **BUDGET}
    return waited, run(as_process(train, rewrite, root), timeout_s=600)


def test_the_training_job_waits_for_mlflow_then_registers_a_model(
    training: tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]],
    mlflow_uri: str,
) -> None:
    waited, trained = training
    assert waited.returncode == 0, waited.stderr
    assert trained.returncode == 0, (trained.stdout + trained.stderr)[-3000:]
    alias = httpx.get(
        f"{mlflow_uri}/api/2.0/mlflow/registered-models/alias",
        params={"name": "calhousing", "alias": "production"},
    )
    assert alias.status_code == 200, alias.text


def test_the_predictor_gets_ready_and_passes_the_helm_test(
    docs: list[dict[str, Any]], mlflow_uri: str, training: Any, tmp_path: Path
) -> None:
    (predictor,) = containers(docs, "Deployment", "calhousing-predictor")
    http, grpc, metrics = free_port(), free_port(), free_port()
    rewrite = {
        "CALHOUSING_MLFLOW__TRACKING_URI": mlflow_uri,
        "CALHOUSING_SERVE__HOST": "127.0.0.1",
        "CALHOUSING_SERVE__HTTP_PORT": str(http),
        "CALHOUSING_SERVE__GRPC_PORT": str(grpc),
        "CALHOUSING_SERVE__METRICS_PORT": str(metrics),
        "CALHOUSING_SERVE__WORKDIR": str(tmp_path / "work" / "mlserver"),
        # SQLite stands in for the release's PostgreSQL, as for MLflow.
        "CALHOUSING_PREDLOG__URL": f"sqlite:///{tmp_path / 'predictions.db'}",
    }
    process = as_process(predictor, rewrite, tmp_path)
    ready = predictor["readinessProbe"]["httpGet"]["path"]
    with _running(process, f"http://127.0.0.1:{http}{ready}", tmp_path / "serve.log"):
        (test,) = containers(docs, "Pod", "calhousing-test-inference")
        urls = {"REST_URL": f"http://127.0.0.1:{http}", "GRPC_TARGET": f"127.0.0.1:{grpc}"}
        checked = run(as_process(test, urls, tmp_path), timeout_s=60)
        assert checked.returncode == 0, (checked.stdout + checked.stderr)[-3000:]
    # The helm test's requests reached the prediction log the chart configured.
    assert (tmp_path / "predictions.db").stat().st_size > 0


def test_the_mlflow_init_container_calls_a_real_command(docs: list[dict[str, Any]]) -> None:
    init, _ = containers(docs, "Deployment", "calhousing-mlflow")
    argv = [EXECUTABLES["calhousing"], *init["args"], "--help"]

    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)

    assert init["args"] == ["predlog-provision"]
    assert done.returncode == 0 and "prediction log" in done.stdout, done.stderr
