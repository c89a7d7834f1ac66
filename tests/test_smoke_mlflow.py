import httpx
import pytest

from tests.services import MlflowServer


@pytest.mark.integration
def test_mlflow_server_answers_health(mlflow: MlflowServer) -> None:
    assert httpx.get(f"{mlflow.uri}/health").text == "OK"
