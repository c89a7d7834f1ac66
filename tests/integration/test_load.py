"""A bounded load run against the real server from a separate process (reliability.load_run):
no errors, and the prediction log holds exactly one row per answered request.

`make reliability` runs 50,000 requests (RELIABILITY_REQUESTS); the suite runs 2,000."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.serving_fixtures import SERVE_ARGV, RegisteredModel, serve_env
from tests.services import MlflowServer, running

pytestmark = pytest.mark.integration

REQUESTS = int(os.environ.get("RELIABILITY_REQUESTS", "2000"))


def _rows(store: Path) -> int:
    with sqlite3.connect(store, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM predictions").fetchone()[0])


def test_a_load_run_has_no_errors_and_logs_every_answered_row(
    mlflow: MlflowServer, registered_model: RegisteredModel, california_csv: Path, tmp_path: Path
) -> None:
    store = tmp_path / "predictions.db"
    env = serve_env(mlflow, tmp_path, registered_model.name) | {
        "CALHOUSING_PREDLOG__URL": f"sqlite:///{store}"
    }
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    grpc = f"127.0.0.1:{env['CALHOUSING_SERVE__GRPC_PORT']}"
    ready = f"{http}/v2/models/{registered_model.name}/ready"
    load = [sys.executable, "-m", "reliability.load_run", "--rest", http, "--grpc", grpc]
    load += ["--model", registered_model.name, "--csv", str(california_csv)]
    load += ["--requests", str(REQUESTS)]
    with running(SERVE_ARGV, ready, tmp_path / "serve.log", timeout_s=180, env=env):
        done = subprocess.run(load, cwd=REPO, capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.splitlines()[-1])
    # Stopped (SIGTERM): the log's queue is written before the process exits.
    time.sleep(0.1)
    logged = _rows(store)
    print(f"load: {json.dumps(figures)}; rows logged {logged}")

    assert figures["errors"] == {}
    assert figures["answered"] == figures["requests"] == REQUESTS
    assert figures["rest"] > 0 and figures["grpc"] > 0
    assert logged == figures["answered"]
