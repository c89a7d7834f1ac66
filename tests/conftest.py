import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("timeout", None) is not None:  # `--timeout` given: it rules
        return
    for item in items:
        folder = item.path.relative_to(REPO / "tests").parts[0]
        if folder in TIMEOUT_S and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_S[folder]))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `pytest -n N` (make test): each module runs whole on one worker (its module
    fixtures start once), and the cluster's tests all run on one worker, in order (they share
    one release, and the last stops the cluster)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ClusterTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]  # not the class: module fixtures start once
            return "tests/cluster" if module.startswith("tests/cluster/") else module

    return ClusterTogether(config, log)


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
