"""Fixtures for the serving tests: a small real model in a real registry, and the real server
started through the real CLI (`python -m calhousing serve`), configured by environment only."""

import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES, TARGET
from inference.client import GrpcClient, RestClient
from tests.services import MlflowServer, free_port, running
from training.compiled import compile_and_log

# Its own name, so other tests sharing the session's MLflow server cannot move its alias.
MODEL_NAME = "calhousing-serving-test"
MAX_ROWS = 100
"""The served model's batch limit, small so the over-limit request stays cheap."""
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    estimator: HistGradientBoostingRegressor
    rows: npt.NDArray[np.float64]
    """Real rows of the data set, [N, 8] in FEATURE_NAMES order."""

    def predict(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        frame = pd.DataFrame(rows, columns=list(FEATURE_NAMES))
        return np.asarray(self.estimator.predict(frame), dtype=np.float64)


@dataclass(frozen=True)
class Served:
    model: RegisteredModel
    http: str
    grpc: str
    metrics: str
    log: Path

    @property
    def ready_url(self) -> str:
        return f"{self.http}/v2/models/{self.model.name}/ready"


@pytest.fixture(scope="session")
def registered_model(mlflow: MlflowServer, california_csv: Path) -> RegisteredModel:
    """A few-iteration HistGradientBoosting model, logged in skops format with its forest file,
    registered and aliased `production`, as the training pipeline would."""
    import mlflow as mlflow_api

    frame = pd.read_csv(california_csv)
    features = frame[list(FEATURE_NAMES)]
    with threadpool_limits(1):  # 2 shared cores: OpenMP contention makes fitting 100x slower
        estimator = HistGradientBoostingRegressor(max_iter=20, random_state=0)
        estimator.fit(features, frame[TARGET.name])
    mlflow_api.set_tracking_uri(mlflow.uri)
    mlflow_api.set_experiment("serving-tests")
    with mlflow_api.start_run():
        info = mlflow_api.sklearn.log_model(
            estimator,
            name="model",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            pip_requirements=[
                f"scikit-learn=={version('scikit-learn')}",
                f"skops=={version('skops')}",
            ],
            registered_model_name=MODEL_NAME,
        )
        # As training does: the forest serving loads instead of deserializing the estimator
        # (checked on bare rows, as served, by a model fitted on named columns).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            compile_and_log(estimator, features.to_numpy(dtype=np.float64))
    model_version = str(info.registered_model_version)
    mlflow_api.MlflowClient().set_registered_model_alias(MODEL_NAME, "production", model_version)
    rows = features.sample(64, random_state=1).to_numpy(dtype=np.float64)
    return RegisteredModel(MODEL_NAME, model_version, estimator, rows)


def serve_env(mlflow: MlflowServer, workdir: Path, model_name: str) -> dict[str, str]:
    """Everything the server needs, from the environment alone, on free ports."""
    return {
        "CALHOUSING_PARAMS": str(workdir / "no-params.yaml"),
        "CALHOUSING_MLFLOW__TRACKING_URI": mlflow.uri,
        "CALHOUSING_REGISTRY__MODEL_NAME": model_name,
        "CALHOUSING_SERVE__HTTP_PORT": str(free_port()),
        "CALHOUSING_SERVE__GRPC_PORT": str(free_port()),
        "CALHOUSING_SERVE__METRICS_PORT": str(free_port()),
        "CALHOUSING_SERVE__WORKDIR": str(workdir),
        # The default is relative to the working directory, i.e. the repo's .run/.
        "CALHOUSING_PREDLOG__URL": f"sqlite:///{workdir / 'predictions.db'}",
        "CALHOUSING_SERVE__MAX_BATCH_ROWS": str(MAX_ROWS),
    }


SERVE_ARGV = [sys.executable, "-m", "calhousing", "serve"]


@pytest.fixture(scope="module")
def served(
    mlflow: MlflowServer,
    registered_model: RegisteredModel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    workdir = tmp_path_factory.mktemp("mlserver")
    env = serve_env(mlflow, workdir, registered_model.name)
    port = {key.rsplit("__", 1)[-1]: value for key, value in env.items()}
    server = Served(
        registered_model,
        http=f"http://127.0.0.1:{port['HTTP_PORT']}",
        grpc=f"127.0.0.1:{port['GRPC_PORT']}",
        metrics=f"http://127.0.0.1:{port['METRICS_PORT']}/metrics",
        log=workdir / "serve.log",
    )
    with running(SERVE_ARGV, server.ready_url, server.log, timeout_s=180, env=env):
        yield server


@pytest.fixture(scope="module")
def rest(served: Served) -> RestClient:
    return RestClient(served.http, served.model.name)


@pytest.fixture(scope="module")
def grpc_client(served: Served) -> GrpcClient:
    return GrpcClient(served.grpc, served.model.name)
