from collections.abc import Iterator
from pathlib import Path

import pytest

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
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server
