"""The prediction log under load, against the real server: every answered request is a row,
across a graceful restart (SIGTERM), and each row names the version that answered."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from core.predstore import PREDICTIONS, connect
from inference.client import RestClient
from tests.integration.serving_fixtures import SERVE_ARGV, RegisteredModel, serve_env
from tests.services import MlflowServer, running

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
