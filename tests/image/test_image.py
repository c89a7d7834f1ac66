"""The image is real: its three entrypoints run in containers as the chart runs them (non-root,
read-only root filesystem, scratch on tmpfs) and do their jobs together.

`make image-test` builds the image with podman from a local Debian base and runs this module
with CALHOUSING_TEST_IMAGE set; without it the module is skipped (a plain `pytest` cannot
build images)."""

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.services import free_port

IMAGE = os.environ.get("CALHOUSING_TEST_IMAGE", "")
SMOKE_TEST = Path(__file__).resolve().parents[2] / "helm" / "calhousing" / "files" / "smoke_test.py"
# crun fails on this host's cgroups, and podman's default ulimits exceed the host's hard limits.
PODMAN = ["podman", "--runtime", "runc"]
RUN = [
    *PODMAN,
    "run",
    "--network",
    "host",
    "--ulimit",
    "nofile=4096:4096",
    "--ulimit",
    "nproc=4096:4096",
]
# As in the chart: read-only root, writable /tmp (and $HOME), the image's own non-root user.
LOCKED = [
    "--read-only",
    "--tmpfs",
    "/tmp:rw,mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]
# Keep the test workload small: one fast model family instead of params.yaml's three.
BUDGET = {"CALHOUSING_TRAIN__FAMILIES": '["linear"]', "CALHOUSING_TRAIN__N_JOBS": "1"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not IMAGE, reason="builds and runs the container image: run `make image-test`"
    ),
]


def _env_args(env: dict[str, str]) -> list[str]:
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


def podman_run(args: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, "--rm", *LOCKED, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@contextmanager
def container(name: str, args: list[str], ready_url: str, timeout_s: float = 180) -> Iterator[None]:
    """A detached container until the block ends; fails with its logs if it never gets ready."""
    subprocess.run([*PODMAN, "rm", "-f", name], capture_output=True, check=False)
    subprocess.run([*RUN, "-d", "--name", name, *LOCKED, *args], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not _ready(ready_url):
            if time.monotonic() > deadline or not _running(name):
                logs = subprocess.run(
                    [*PODMAN, "logs", name], capture_output=True, text=True, check=False
                )
                pytest.fail(
                    f"{name} not ready at {ready_url}:\n{(logs.stdout + logs.stderr)[-3000:]}"
                )
            time.sleep(1)
        yield
    finally:
        subprocess.run([*PODMAN, "rm", "-f", "-t", "10", name], capture_output=True, check=False)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _running(name: str) -> bool:
    state = subprocess.run(
        [*PODMAN, "inspect", "-f", "{{.State.Running}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return state.stdout.strip() == "true"


@pytest.fixture(scope="module")
def tracking_uri() -> Iterator[str]:
    """The image's `calhousing mlflow-server`, its store on a tmpfs."""
    port = free_port()
    env = {
        "CALHOUSING_MLFLOW__HOST": "127.0.0.1",
        "CALHOUSING_MLFLOW__PORT": str(port),
        "CALHOUSING_MLFLOW__BACKEND_STORE_URI": "sqlite:////data/mlflow.db",
        "CALHOUSING_MLFLOW__ARTIFACTS_DESTINATION": "/data/artifacts",
    }
    args = [
        "--tmpfs",
        "/data:rw,mode=1777",
        "--workdir",
        "/data",
        *_env_args(env),
        IMAGE,
        "mlflow-server",
    ]
    with container(
        "calhousing-test-mlflow", args, f"http://127.0.0.1:{port}/health", timeout_s=120
    ):
        yield f"http://127.0.0.1:{port}"


def test_the_image_runs_as_its_non_root_user_without_build_tools() -> None:
    probe = podman_run(
        ["--entrypoint", "sh", IMAGE, "-c", "id -u; command -v uv gcc cc pip3 || true"]
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["10001"], probe.stdout


def test_the_training_entrypoint_registers_a_production_model(
    tracking_uri: str, california_csv: Path
) -> None:
    env = {
        "CALHOUSING_MLFLOW__TRACKING_URI": tracking_uri,
        "CALHOUSING_DATA__SOURCE": "/input/california_housing.csv",
        **BUDGET,
    }
    args = [
        "--tmpfs",
        "/work:rw,mode=1777",
        "--workdir",
        "/work",
        "-v",
        f"{california_csv}:/input/california_housing.csv:ro",
    ]
    run = podman_run([*args, *_env_args(env), IMAGE, "pipeline"])
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    alias = httpx.get(
        f"{tracking_uri}/api/2.0/mlflow/registered-models/alias",
        params={"name": "calhousing", "alias": "production"},
    )
    assert alias.status_code == 200, alias.text


def test_the_serving_entrypoint_answers_v2_rest_and_grpc(tracking_uri: str) -> None:
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    env = {
        "CALHOUSING_MLFLOW__TRACKING_URI": tracking_uri,
        "CALHOUSING_SERVE__HOST": "127.0.0.1",
        "CALHOUSING_SERVE__HTTP_PORT": str(http),
        "CALHOUSING_SERVE__GRPC_PORT": str(grpc_port),
        "CALHOUSING_SERVE__METRICS_PORT": str(metrics),
        "CALHOUSING_SERVE__WORKDIR": "/work/mlserver",
        # As the chart does, the log gets a writable home (there: PostgreSQL); the default,
        # .run/ under the working directory, is on the read-only root.
        "CALHOUSING_PREDLOG__URL": "sqlite:////work/predictions.db",
    }
    args = ["--tmpfs", "/work:rw,mode=1777", *_env_args(env), IMAGE, "serve"]
    ready = f"http://127.0.0.1:{http}/v2/models/calhousing/ready"
    with container("calhousing-test-serve", args, ready, timeout_s=240):
        # The `helm test` script, in the image as the chart's test pod runs it.
        smoke = {
            "MODEL_NAME": "calhousing",
            "REST_URL": f"http://127.0.0.1:{http}",
            "GRPC_TARGET": f"127.0.0.1:{grpc_port}",
        }
        run = podman_run(
            ["--entrypoint", "python", *_env_args(smoke), IMAGE, "-c", SMOKE_TEST.read_text()]
        )
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        assert "REST" in run.stdout and "gRPC" in run.stdout
        assert "model_infer_request" in httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
