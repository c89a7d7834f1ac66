"""Real monitoring for the observability tests: a Pushgateway and a Prometheus (Debian's
binaries) on free ports, a real `calhousing pipeline` that pushes its outcome, and the real
server serving the model that pipeline promoted, scraped every second."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from calhousing.prometheus import prometheus_argv, pushgateway_argv, scrape_config
from tests.integration.serving_fixtures import SERVE_ARGV, serve_env
from tests.services import MlflowServer, free_port, running

# Its own model name and experiment: other tests share the session's MLflow server.
MODEL_NAME = "calhousing-observability-test"
PIPELINE_ARGV = [sys.executable, "-m", "calhousing", "pipeline"]


@dataclass(frozen=True)
class Trained:
    model: str
    version: str
    decision: dict[str, Any]
    failed_log: str


@dataclass(frozen=True)
class Server:
    model: str
    version: str
    http: str
    grpc: str
    metrics: str
    """host:port of the metrics endpoint."""
    log: Path


@dataclass(frozen=True)
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) of `expr`; fails on a parse error."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert answer.status_code == 200, f"{expr}\n{body.get('error')}"
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, timeout_s: float = 30) -> list[dict[str, Any]]:
        """Poll until `expr` returns data (scrapes and rule evaluations come each second)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr} after {timeout_s} s")


def _pipeline_env(root: Path, mlflow: MlflowServer, source: Path, gateway: str) -> dict[str, str]:
    return {
        "CALHOUSING_PARAMS": str(root / "no-params.yaml"),
        "CALHOUSING_DATA__SOURCE": str(source),
        "CALHOUSING_TRAIN__FAMILIES": '["linear"]',  # the cheapest real training
        "CALHOUSING_TRAIN__N_JOBS": "1",
        "CALHOUSING_MLFLOW__TRACKING_URI": mlflow.uri,
        "CALHOUSING_MLFLOW__EXPERIMENT": "observability-test",
        "CALHOUSING_REGISTRY__MODEL_NAME": MODEL_NAME,
        "CALHOUSING_MONITORING__PUSHGATEWAY_URL": f"http://{gateway}",
        # Not `drift`: a drift-triggered retrain needs labelled served rows (training.recent).
        "CALHOUSING_MONITORING__TRIGGER": "schedule",
        "OMP_NUM_THREADS": "1",
    }


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=os.environ | env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with running(pushgateway_argv(address), f"http://{address}/-/ready", log, timeout_s=30):
        yield address


@pytest.fixture(scope="module")
def trained(
    mlflow: MlflowServer,
    california_csv: Path,
    pushgateway: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Trained:
    """A training that fails (missing data), then one that promotes a linear model; both push.
    The work dir is a git repo so the run is tagged with a commit, as in CI."""
    root = tmp_path_factory.mktemp("training")
    for git in (["init", "-q"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                                 "--allow-empty", "-m", "training under test"]):  # fmt: skip
        subprocess.run(["git", *git], cwd=root, check=True, capture_output=True)
    failed = _run(PIPELINE_ARGV, root, _pipeline_env(root, mlflow, root / "none.csv", pushgateway))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    done = _run(PIPELINE_ARGV, root, _pipeline_env(root, mlflow, california_csv, pushgateway))
    assert done.returncode == 0, done.stdout + done.stderr
    decision = json.loads((root / "artifacts" / "decision.json").read_text())
    assert decision["decision"] == "promoted", decision
    return Trained(MODEL_NAME, decision["version"], decision, failed.stderr)


@pytest.fixture(scope="module")
def server(
    mlflow: MlflowServer, trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The real server on the model the pipeline promoted (which carries a reference profile)."""
    workdir = tmp_path_factory.mktemp("mlserver-observed")
    env = serve_env(mlflow, workdir, trained.model)
    port = {key.rsplit("__", 1)[-1]: value for key, value in env.items()}
    served = Server(
        trained.model,
        trained.version,
        http=f"http://127.0.0.1:{port['HTTP_PORT']}",
        grpc=f"127.0.0.1:{port['GRPC_PORT']}",
        metrics=f"127.0.0.1:{port['METRICS_PORT']}",
        log=workdir / "serve.log",
    )
    ready = f"{served.http}/v2/models/{served.model}/ready"
    with running(SERVE_ARGV, ready, served.log, timeout_s=180, env=env):
        yield served


@pytest.fixture(scope="module")
def prometheus(
    server: Server, pushgateway: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Scrapes the server and the Pushgateway each second, with the chart's rule file."""
    root = tmp_path_factory.mktemp("prometheus")
    config = root / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(server.metrics, pushgateway, interval="1s")))
    address = f"127.0.0.1:{free_port()}"
    argv = prometheus_argv(config, root / "data", address)
    with running(argv, f"http://{address}/-/ready", root / "prometheus.log", timeout_s=60):
        yield Prometheus(f"http://{address}")
