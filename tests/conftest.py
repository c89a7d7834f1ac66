import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.features import FEATURE_NAMES, TARGET
from core.profile import FloatArray
from core.settings import Settings
from tests.services import MlflowServer, mlflow_server

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TIMEOUT_S = {"code": 120, "data": 120, "model": 300, "chart": 300, "image": 900}
"""Per folder, for tests that set none (integration tests get the ini's 600 s, cluster tests
their own): a hung unit test fails in minutes, not after the slowest folder's budget."""


def pytest_configure(config: pytest.Config) -> None:
    """Settings from the developer's shell (`CALHOUSING_SERVE__HTTP_PORT=...`) would reach
    every process a test starts: the tests run on params.yaml and their own settings only."""
    shell = ("CALHOUSING_PARAMS", *(f"CALHOUSING_{name.upper()}" for name in Settings.model_fields))
    for key in [key for key in os.environ if key.startswith(shell)]:
        del os.environ[key]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_worker_group(item)))
    if config.getoption("timeout", None) is not None:  # `--timeout` given: it rules
        return
    for item in items:
        folder = item.path.relative_to(REPO / "tests").parts[0]
        if folder in TIMEOUT_S and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_S[folder]))


def _worker_group(item: pytest.Item) -> str:
    """Under `pytest -n N --dist loadgroup` (make test) one worker runs a group, in order: the
    cluster's tests are one group (they share one release and end by stopping the cluster),
    every other module is its own (its module fixtures start once)."""
    if item.get_closest_marker("cluster") is not None:
        return "cluster"
    return item.path.relative_to(REPO).as_posix()


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
