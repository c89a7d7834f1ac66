"""The prediction log under load, against the real server: every answered request is a row,
across a graceful restart (SIGTERM), and each row names the version that answered; a store
that cannot be opened leaves the model serving and every row counted as dropped."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from core.predstore import PREDICTIONS, connect
from inference.client import RestClient
from tests.integration.serving_fixtures import SERVE_ARGV, RegisteredModel, serve_env
from tests.services import MlflowServer, free_port, running

pytestmark = pytest.mark.integration

REQUESTS = 200
THREADS = 4


def _send(http: str, model: RegisteredModel, count: int) -> list[str]:
    """`count` single-row requests from a few threads; the request ids that were answered."""

    def one(i: int) -> str:
        with RestClient(http, model.name) as client:
            row = model.rows[i % len(model.rows)]
            return client.send({"id": f"req-{i}", "inputs": _inputs(row)}).request_id

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(count)))


def _inputs(row: np.ndarray) -> list[dict[str, object]]:
    from inference.client import v2_inputs

    return v2_inputs(row.reshape(1, -1), "columns")


def _count(url: str) -> int:
    with connect(url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PREDICTIONS)).scalar_one())


def test_every_request_is_logged_across_a_graceful_restart(
    mlflow: MlflowServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = serve_env(mlflow, tmp_path, registered_model.name) | {
        "CALHOUSING_PREDLOG__URL": url,
        # Nothing is written before shutdown: only the flush on SIGTERM saves these rows.
        "CALHOUSING_PREDLOG__BATCH_ROWS": "100000",
        "CALHOUSING_PREDLOG__FLUSH_INTERVAL_S": "3600",
    }
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    ready = f"{http}/v2/models/{registered_model.name}/ready"
    answered = []
    for run in range(2):
        with running(SERVE_ARGV, ready, tmp_path / f"serve-{run}.log", 180, env):
            answered += _send(http, registered_model, REQUESTS)
        assert _count(url) == len(answered) == REQUESTS * (run + 1)
    with connect(url).connect() as connection:
        rows = connection.execute(
            select(PREDICTIONS.c.request_id, PREDICTIONS.c.model_version, PREDICTIONS.c.MedInc)
        ).all()
    assert {r.request_id for r in rows} == {f"req-{i}" for i in range(REQUESTS)}
    assert {r.model_version for r in rows} == {registered_model.version}
    assert {r.MedInc for r in rows} <= set(registered_model.rows[:, 0])


def test_a_prediction_log_that_cannot_be_opened_leaves_the_model_serving_and_counts_the_drops(
    mlflow: MlflowServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    """No database listens on the log's port: the model still loads and answers, and every
    row is counted as dropped, the log saying why."""
    env = serve_env(mlflow, tmp_path, registered_model.name) | {
        "CALHOUSING_PREDLOG__URL": f"postgresql://predlog@127.0.0.1:{free_port()}/predictions",
        "CALHOUSING_PREDLOG__RETRIES": "0",
        "CALHOUSING_PREDLOG__FLUSH_INTERVAL_S": "0.2",
    }
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    metrics = f"http://127.0.0.1:{env['CALHOUSING_SERVE__METRICS_PORT']}/metrics"
    ready = f"{http}/v2/models/{registered_model.name}/ready"
    log = tmp_path / "serve.log"
    with running(SERVE_ARGV, ready, log, 180, env):
        answered = _send(http, registered_model, 20)
        deadline = time.monotonic() + 60
        while (dropped := _dropped(metrics)) < len(answered) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert len(answered) == 20 and dropped == len(answered)
    assert "prediction log: cannot open the store" in log.read_text()


def _dropped(metrics_url: str) -> float:
    """Rows the log counted as dropped because writing failed."""
    text = httpx.get(metrics_url, timeout=5).text
    pattern = r'calhousing_predlog_dropped_rows_total\{[^}]*reason="write_failed"[^}]*\} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0
