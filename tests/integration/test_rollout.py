"""A rollout under load, on the real server: a load generator keeps sending while the alias
moves to a new version and MLServer's reload API swaps it in. No request fails, every answer
names its version, and the prediction log shows the switch (old rows, then new rows)."""

import threading
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES, TARGET
from core.predstore import PREDICTIONS, connect
from inference.client import InferenceClientError, RestClient
from monitoring.rollout import ReloadRollout
from tests.integration.serving_fixtures import SERVE_ARGV, TRUSTED_TYPES, serve_env
from tests.services import MlflowServer, running

pytestmark = pytest.mark.integration

MODEL = "calhousing-rollout-test"


def _register(frame: pd.DataFrame, iterations: int) -> str:
    import mlflow

    with threadpool_limits(1):
        estimator = HistGradientBoostingRegressor(max_iter=iterations, random_state=0)
        estimator.fit(frame[list(FEATURE_NAMES)], frame[TARGET.name])
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            estimator, name="model", serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES, registered_model_name=MODEL,
            pip_requirements=[f"scikit-learn=={version('scikit-learn')}"],
        )  # fmt: skip
    number = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "production", number)
    return number


class Load:
    """Single-row requests in a loop from one thread until stopped: answers and failures."""

    def __init__(self, http: str, rows: list[list[float]]) -> None:
        self.http, self.rows = http, rows
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        import numpy as np

        with RestClient(self.http, MODEL) as client:
            while not self._stop.is_set():
                row = np.array([self.rows[len(self.versions) % len(self.rows)]])
                try:
                    self.versions.append(client.infer(row).model_version)
                except InferenceClientError as err:
                    self.failures.append(str(err))

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_reload_under_load_drops_nothing_and_the_log_shows_the_switch(
    mlflow: MlflowServer, california_csv: Path, tmp_path: Path
) -> None:
    import mlflow as mlflow_api

    frame = pd.read_csv(california_csv).sample(4000, random_state=0)
    mlflow_api.set_tracking_uri(mlflow.uri)
    mlflow_api.set_experiment("rollout-test")
    old = _register(frame, 10)
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = serve_env(mlflow, tmp_path, MODEL) | {"CALHOUSING_PREDLOG__URL": url}
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    rows = frame[list(FEATURE_NAMES)].head(50).to_numpy().tolist()
    with running(SERVE_ARGV, f"{http}/v2/models/{MODEL}/ready", tmp_path / "serve.log", 180, env):
        with Load(http, rows) as load:
            time.sleep(1)
            new = _register(frame, 20)
            ReloadRollout(http, MODEL).roll(new)
            answered_before_end = len(load.versions)
            time.sleep(1)
        assert not load.failures
        assert load.versions[0] == old and load.versions[-1] == new
        assert len(load.versions) > answered_before_end  # it kept answering after the swap
    with connect(url).connect() as connection:
        logged = (
            connection.execute(
                select(PREDICTIONS.c.model_version).order_by(PREDICTIONS.c.ts, PREDICTIONS.c.id)
            )
            .scalars()
            .all()
        )
    assert len(logged) == len(load.versions)
    switch = logged.index(new)
    assert set(logged[:switch]) == {old} and set(logged[switch:]) == {new}
