"""Faults injected into a real stack (its own MLflow server, the real `calhousing serve`, a
SQLite prediction store): serving keeps answering, fails cleanly where it must, says why in a
metric and a log, and loses no logged prediction.

One scenario, in order (pytest runs a module's tests in file order): a corrupt version, the
prediction store locked, MLflow stopping while serving, a retrain with MLflow down, and last
SIGTERM under load, which ends the server.
"""

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow as mlflow_api
import pytest
from mlflow import MlflowClient

from inference.client import GrpcClient, InferenceClientError, RestClient
from tests.integration.serving_fixtures import SERVE_ARGV, TRUSTED_TYPES, RegisteredModel, serve_env
from tests.services import MlflowServer, child_env, mlflow_server, wait_until_ready

pytestmark = pytest.mark.integration

MODEL = "calhousing-faults"


@dataclass
class Lab:
    mlflow: MlflowServer
    mlflow_stack: ExitStack
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    store: Path
    model: RegisteredModel

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.env['CALHOUSING_SERVE__HTTP_PORT']}"

    @property
    def ready_url(self) -> str:
        return f"{self.http}/v2/models/{MODEL}/ready"

    def rest(self) -> RestClient:
        return RestClient(self.http, MODEL)

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.env['CALHOUSING_SERVE__METRICS_PORT']}/metrics")
        wanted = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.text.splitlines()
            if line.startswith(name + "{") and all(w in line for w in wanted)
        )

    def dropped(self) -> float:
        return self.metric(
            "calhousing_predlog_dropped_rows_total", model=MODEL, reason="write_failed"
        )

    def reload(self) -> httpx.Response:
        return httpx.post(f"{self.http}/v2/repository/models/{MODEL}/load", timeout=120)


def log_version(model: RegisteredModel, tracking_uri: str) -> str:
    mlflow_api.set_tracking_uri(tracking_uri)
    mlflow_api.set_experiment("faults")
    with mlflow_api.start_run():
        info = mlflow_api.sklearn.log_model(
            model.estimator,
            name="model",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=["scikit-learn", "skops"],
            registered_model_name=MODEL,
        )
    return str(info.registered_model_version)


@pytest.fixture(scope="module")
def lab(
    registered_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("faults")
    stack = ExitStack()
    server = stack.enter_context(mlflow_server(root / "mlflow"))
    version = log_version(registered_model, server.uri)
    MlflowClient(server.uri).set_registered_model_alias(MODEL, "production", version)
    store = root / "predictions.db"
    env = serve_env(server, root, MODEL) | {
        "CALHOUSING_PREDLOG__URL": f"sqlite:///{store}",
        "CALHOUSING_PREDLOG__FLUSH_INTERVAL_S": "0.2",
        "CALHOUSING_PREDLOG__RETRIES": "1",
        "CALHOUSING_PREDLOG__RETRY_BACKOFF_S": "0.1",
    }
    log = root / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(SERVE_ARGV, stdout=out, stderr=out, env=child_env(env))
    lab = Lab(server, stack, proc, env, log, store, registered_model)
    try:
        wait_until_ready(lab.ready_url, proc, log, timeout_s=180)
        yield lab
    finally:
        proc.kill()
        proc.wait()
        stack.close()


def corrupt(client: MlflowClient, version: str, root: Path) -> None:
    """Overwrite `version`'s serialized estimator in the server's artifact store (its logged
    model's id is the last part of the version's source)."""
    model_id = str(client.get_model_version(MODEL, version).source).rstrip("/").split("/")[-1]
    files = [p for p in (root / "artifacts").rglob("model.skops") if model_id in str(p)]
    assert files, f"no artifact of version {version} ({model_id}) under {root}"
    for path in files:
        path.write_bytes(b"not a skops file")


def test_a_corrupt_version_fails_to_load_and_the_old_one_keeps_serving(lab: Lab) -> None:
    client = MlflowClient(lab.mlflow.uri)
    good = client.get_model_version_by_alias(MODEL, "production").version
    bad = log_version(lab.model, lab.mlflow.uri)
    corrupt(client, bad, lab.mlflow.root)
    client.set_registered_model_alias(MODEL, "production", bad)
    failures = lab.metric("calhousing_model_load_failures_total", model=MODEL)

    answer = lab.reload()

    # A failed load is the server's failure, not the caller's: 500, as V2's JSON error.
    assert answer.status_code == 500
    assert answer.json()["error"].startswith(f"{MODEL}: loading models:/{MODEL}@production failed")
    with lab.rest() as rest:
        assert rest.infer(lab.model.rows[:2]).model_version == str(good)
    assert httpx.get(lab.ready_url).status_code == 200
    assert lab.metric("calhousing_model_load_failures_total", model=MODEL) == failures + 1
    assert "skops" in lab.log.read_text()
    client.set_registered_model_alias(MODEL, "production", good)  # the operator's rollback


def _served_rows(store: Path) -> int:
    with sqlite3.connect(store, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM predictions").fetchone()[0])


def _settled_rows(store: Path) -> int:
    """Rows of earlier requests may still sit in the writer's queue: count once the store has
    held still for well over a flush interval, so they are not mistaken for this test's."""
    last, now = -1, _served_rows(store)
    while now != last:
        time.sleep(1.0)
        last, now = now, _served_rows(store)
    return now


def _wait_for(check: Any, timeout_s: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log else ""
            pytest.fail(f"timed out waiting for {check.__name__}; log tail:\n{tail}")
        time.sleep(0.2)


def test_a_locked_prediction_store_costs_rows_not_answers(lab: Lab) -> None:
    """Every answered row is written or counted as dropped: none vanishes silently."""
    rows_before = _settled_rows(lab.store)
    dropped_before = lab.dropped()
    lock = sqlite3.connect(lab.store, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with lab.rest() as rest:
            answered = [rest.infer(lab.model.rows[i : i + 1]) for i in range(10)]
        _wait_for(lambda: lab.dropped() > dropped_before, log=lab.log)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    with lab.rest() as rest:
        answered.append(rest.infer(lab.model.rows[:3]))  # written once the store is back

    def accounted() -> bool:
        lost = lab.dropped() - dropped_before
        return _served_rows(lab.store) - rows_before + lost == 13

    _wait_for(accounted, log=lab.log)
    assert len(answered) == 11
    assert lab.dropped() > dropped_before
    log = lab.log.read_text()
    assert "write failed (attempt 1)" in log and "write failed (attempt 2)" in log


def test_serving_outlives_mlflow_and_a_reload_then_fails_cleanly(lab: Lab) -> None:
    failures = lab.metric("calhousing_model_load_failures_total", model=MODEL)
    lab.mlflow_stack.close()  # MLflow stops
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{lab.mlflow.uri}/health", timeout=5)

    answer = lab.reload()  # MLflow's client, bounded by serve.mlflow_*, gives up in seconds

    assert answer.status_code == 500
    assert "failed" in answer.json()["error"]
    with (
        lab.rest() as rest,
        GrpcClient(f"127.0.0.1:{lab.env['CALHOUSING_SERVE__GRPC_PORT']}", MODEL) as grpc,
    ):
        assert len(rest.infer(lab.model.rows[:4]).values) == 4
        assert len(grpc.infer(lab.model.rows[:4], "tensor").values) == 4
    assert httpx.get(lab.ready_url).status_code == 200
    assert lab.metric("calhousing_model_load_failures_total", model=MODEL) == failures + 1


def test_a_retrain_with_mlflow_down_fails_with_a_clear_error(
    lab: Lab, california_csv: Path, tmp_path: Path
) -> None:
    env = child_env(
        {
            "CALHOUSING_DATA__SOURCE": str(california_csv),
            "CALHOUSING_MLFLOW__TRACKING_URI": lab.mlflow.uri,
            "CALHOUSING_REGISTRY__MODEL_NAME": MODEL,
            "CALHOUSING_TRAIN__FAMILIES": '["linear"]',
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "calhousing", "pipeline"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert lab.mlflow.uri.split("//")[1] in done.stderr + done.stdout
    # The alias lives in the stopped server's store: nothing could have moved it.
    with sqlite3.connect(lab.mlflow.root / "mlflow.db") as db:
        alias = db.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = 'production'",
            (MODEL,),
        ).fetchone()
    assert alias == (1,)


def test_sigterm_under_load_finishes_in_flight_requests_and_flushes_the_log(lab: Lab) -> None:
    before, answered, errors = _served_rows(lab.store), [], []
    stop = threading.Event()

    def load() -> None:
        with lab.rest() as rest:
            while not stop.is_set():
                try:
                    answered.append(rest.infer(lab.model.rows[:2]).request_id)
                except InferenceClientError as err:
                    if err.status is not None:  # refused connections after shutdown are fine
                        errors.append(err)
                    stop.wait(0.05)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: len(answered) >= 200)
    lab.proc.send_signal(signal.SIGTERM)
    code = lab.proc.wait(timeout=60)
    stop.set()
    for thread in threads:
        thread.join()

    assert code == 0
    assert errors == []
    assert _served_rows(lab.store) - before == 2 * len(answered)
