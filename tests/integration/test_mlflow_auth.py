"""MLflow with basic auth, as the chart runs it when `mlflow.auth.enabled`: a real tracking
server started from our settings (`mlflow.app_name: basic-auth`) refuses calls without valid
credentials (401) and unknown Host headers (403), while /health stays open for probes."""

import importlib.util
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from calhousing.services import mlflow_server_argv
from core.errors import CalhousingError
from core.settings import MlflowSettings
from inference.tracking_http import Tracking, TrackingUnavailableError
from tests.services import free_port, running

pytestmark = pytest.mark.integration

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"
PROTECTED = [
    SEARCH,
    "/api/2.0/mlflow/registered-models/search?max_results=1",
    "/api/2.0/mlflow/registered-models/alias?name=calhousing&alias=production",
    "/api/2.0/mlflow-artifacts/artifacts",
    "/",
]


@dataclass(frozen=True)
class AuthServer:
    uri: str
    password: str

    @property
    def admin(self) -> tuple[str, str]:
        return ("admin", self.password)


@pytest.fixture(scope="module")
def auth_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    if importlib.util.find_spec("flask_wtf") is None:
        pytest.fail("MLflow's basic-auth app needs Flask-WTF: add mlflow[auth] to the dependencies")
    root = tmp_path_factory.mktemp("mlflow-auth")
    settings = MlflowSettings(
        port=free_port(),
        backend_store_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
        app_name="basic-auth",
    )
    # The user database's location comes from the auth config file; its default is
    # ./basic_auth.db, which here would land in the repository.
    config = root / "basic_auth.ini"
    config.write_text(
        f"[mlflow]\ndefault_permission = READ\nadmin_username = admin\n"
        f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
    )
    password = secrets.token_urlsafe(16)
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(16),
    }
    uri = f"http://127.0.0.1:{settings.port}"
    argv = mlflow_server_argv(settings)
    with running(argv, f"{uri}/health", root / "mlflow.log", timeout_s=180, env=env):
        yield AuthServer(uri, password)


@pytest.mark.parametrize("path", PROTECTED)
def test_calls_without_credentials_are_401(auth_mlflow: AuthServer, path: str) -> None:
    assert httpx.get(auth_mlflow.uri + path, timeout=30).status_code == 401


def test_a_wrong_password_is_401(auth_mlflow: AuthServer) -> None:
    answer = httpx.get(auth_mlflow.uri + SEARCH, auth=("admin", "not-the-password"), timeout=30)
    assert answer.status_code == 401


def test_the_admin_gets_in(auth_mlflow: AuthServer) -> None:
    assert httpx.get(auth_mlflow.uri + SEARCH, auth=auth_mlflow.admin, timeout=30).is_success


def test_an_unknown_host_header_is_403_even_with_credentials(auth_mlflow: AuthServer) -> None:
    headers = {"host": "attacker.example"}
    answer = httpx.get(auth_mlflow.uri + SEARCH, auth=auth_mlflow.admin, headers=headers)
    assert answer.status_code == 403


def test_health_is_open_for_probes(auth_mlflow: AuthServer) -> None:
    assert httpx.get(f"{auth_mlflow.uri}/health", timeout=30).status_code == 200


def test_the_mlflow_client_authenticates_from_its_environment(
    auth_mlflow: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What training and serving do in the chart: MLFLOW_TRACKING_USERNAME/PASSWORD."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=auth_mlflow.uri)
    with pytest.raises(MlflowException, match="401"):
        client.search_experiments(max_results=1)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth_mlflow.password)
    assert client.search_experiments(max_results=1) is not None


def test_the_auth_database_stays_out_of_the_working_directory(auth_mlflow: AuthServer) -> None:
    assert not Path("basic_auth.db").exists()


def test_servings_own_registry_calls_authenticate_from_mlflows_variables(
    auth_mlflow: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """inference.tracking_http, the predictor's way to its forest file, reads the same
    MLFLOW_TRACKING_USERNAME/PASSWORD as MLflow's client."""
    tracking = Tracking(auth_mlflow.uri)
    with pytest.raises(CalhousingError, match="401") as refused:
        tracking.version("calhousing", "production", None)
    assert not isinstance(refused.value, TrackingUnavailableError)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", auth_mlflow.password)
    # Let in, it is told the truth: no such model yet (what a fresh install's predictor waits on).
    with pytest.raises(TrackingUnavailableError, match="no model 'calhousing'"):
        tracking.version("calhousing", "production", None)
