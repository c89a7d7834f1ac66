"""The prediction log under mixed load, against the real server and a real store: single rows
(predicted inline) and large batches (predicted off the event loop) from several threads while
the writer flushes in batches, then a graceful stop. Every answered row is a row of the store,
once, under its request id and row index, with the values the client sent and was answered."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from core.features import FEATURE_NAMES
from core.predstore import PREDICTIONS, connect
from inference.client import RestClient, v2_inputs
from inference.runtime import OFFLOAD_ROWS
from tests.integration.serving_fixtures import MAX_ROWS, SERVE_ARGV, RegisteredModel, serve_env
from tests.services import MlflowServer, running

pytestmark = pytest.mark.integration

SIZES = [1, 1, 1, MAX_ROWS, 1, OFFLOAD_ROWS, 2, OFFLOAD_ROWS - 1]
REQUESTS = 240
THREADS = 8
Answer = tuple[str, np.ndarray, np.ndarray]


def _send(http: str, model: RegisteredModel) -> list[Answer]:
    """REQUESTS requests of SIZES rows from THREADS threads: (id, rows sent, values answered)."""
    source = np.resize(model.rows, (MAX_ROWS, len(FEATURE_NAMES)))

    def one(i: int) -> Answer:
        rows = np.roll(source, i, axis=0)[: SIZES[i % len(SIZES)]]
        with RestClient(http, model.name) as client:
            answer = client.send({"id": f"load-{i}", "inputs": v2_inputs(rows, "columns")})
        return answer.request_id, rows, answer.values

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(REQUESTS)))


def test_every_answered_row_is_logged_once_under_mixed_load(
    mlflow: MlflowServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = serve_env(mlflow, tmp_path, registered_model.name) | {
        "CALHOUSING_PREDLOG__URL": url,
        "CALHOUSING_PREDLOG__BATCH_ROWS": "50",  # many writes while the load runs
        "CALHOUSING_PREDLOG__FLUSH_INTERVAL_S": "0.2",
    }
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    ready = f"{http}/v2/models/{registered_model.name}/ready"
    with running(SERVE_ARGV, ready, tmp_path / "serve.log", 180, env):
        answered = _send(http, registered_model)
    columns = [PREDICTIONS.c[name] for name in FEATURE_NAMES]
    query = select(PREDICTIONS.c.request_id, PREDICTIONS.c.row, *columns, PREDICTIONS.c.prediction)
    with connect(url).connect() as connection:
        stored = {(r[0], r[1]): r[2:] for r in connection.execute(query)}
    expected = {
        (request_id, i): (*rows[i].tolist(), values[i])
        for request_id, rows, values in answered
        for i in range(len(rows))
    }
    assert sum(len(rows) for _, rows, _ in answered) == len(expected)
    assert stored == expected  # JSON round-trips floats exactly: equal, not approximately
