from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.features import FEATURE_NAMES, TARGET
from core.profile import FloatArray
from tests.services import MlflowServer, mlflow_server

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def california_csv() -> Path:
    """The real data set, beside the repo as in CI (see README, "Data")."""
    path = SHARED / "data" / "california_housing.csv"
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared/data beside the repo")
    return path


@pytest.fixture(scope="session")
def california_xy(california_csv: Path) -> tuple[FloatArray, FloatArray]:
    """The real data as a float64 feature matrix (FEATURE_NAMES order) and target."""
    frame = pd.read_csv(california_csv)
    return frame[list(FEATURE_NAMES)].to_numpy(np.float64), frame[TARGET.name].to_numpy(np.float64)


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server
