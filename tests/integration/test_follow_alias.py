"""Serving follows the alias, on the real server and registry: a load generator keeps sending
while the alias moves to a new version, to a broken one, and back (a rollback). The server
moves by itself within its period: no request fails, every answer names its version, the
prediction log shows the switch (old rows, then new rows), a version that cannot load leaves
the old one serving and is counted, and the metrics record each move."""

import re
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES, TARGET
from core.predstore import PREDICTIONS, connect
from tests.integration.serving_fixtures import SERVE_ARGV, TRUSTED_TYPES, serve_env
from tests.load import Load
from tests.services import MlflowServer, running

pytestmark = pytest.mark.integration

MODEL = "calhousing-follow-test"
# How often the server looks at the alias here (30 s by default).
PERIOD_S = 1.0


def _promote(version: str) -> None:
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(MODEL, "production", version)


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
    return str(info.registered_model_version)


def _register_broken() -> str:
    """A version whose files do not exist: what a half-deleted artifact store leaves."""
    import mlflow

    with mlflow.start_run() as run:  # a real run that logged no model
        pass
    source = f"{run.info.artifact_uri}/model"
    broken = mlflow.MlflowClient().create_model_version(MODEL, source, run.info.run_id)
    return str(broken.version)


def _until(probe: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not probe():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.2)


def _metric(metrics_url: str, name: str, version: str) -> float:
    text = httpx.get(metrics_url, timeout=10).text
    pattern = rf'^{name}\{{[^}}]*version="{version}"[^}}]*\}} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def test_serving_follows_the_alias_forward_past_a_broken_version_and_back(
    mlflow: MlflowServer, california_csv: Path, tmp_path: Path
) -> None:
    import mlflow as mlflow_api

    frame = pd.read_csv(california_csv).sample(4000, random_state=0)
    mlflow_api.set_tracking_uri(mlflow.uri)
    mlflow_api.set_experiment("follow-test")
    old = _register(frame, 10)
    _promote(old)
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    follow = {"CALHOUSING_PREDLOG__URL": url, "CALHOUSING_SERVE__FOLLOW_ALIAS_S": str(PERIOD_S)}
    env = serve_env(mlflow, tmp_path, MODEL) | follow
    http = f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}"
    metrics = f"http://127.0.0.1:{env['CALHOUSING_SERVE__METRICS_PORT']}/metrics"
    rows = frame[list(FEATURE_NAMES)].head(50).to_numpy(np.float64)
    log = tmp_path / "serve.log"
    with running(SERVE_ARGV, f"{http}/v2/models/{MODEL}/ready", log, 180, env):
        with Load(http, MODEL, rows) as load:
            new = _register(frame, 20)
            _promote(new)  # as a retrain, `make pipeline` or MLflow's UI would
            _until(lambda: load.versions[-1:] == [new], f"serving v{new}")
            moved = len(load.versions)
            broken = _register_broken()
            _promote(broken)
            _until(lambda: _metric(metrics, "calhousing_model_load_failures_total", broken) >= 1,
                   f"v{broken}'s failed load counted")  # fmt: skip
            still = len(load.versions)
            time.sleep(2 * PERIOD_S)
            _promote(old)  # a rollback is moving the alias back
            _until(lambda: load.versions[-1:] == [old], f"serving v{old} again")
        assert not load.failures
        assert load.versions[0] == old and set(load.versions[moved:still]) == {new}
        assert _metric(metrics, "calhousing_model_switches_total", new) == 1
        assert _metric(metrics, "calhousing_model_switches_total", old) == 1
    assert f"serving moved from v{old} to v{new}" in log.read_text()
    assert f"v{broken} failed to load (still serving v{new})" in log.read_text()
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
    assert set(logged[:switch]) == {old} and new in logged[switch:] and broken not in logged
