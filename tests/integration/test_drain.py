"""Draining (inference.drain): once the preStop marker exists, every REST answer closes its
connection, so keep-alive clients leave a stopping pod between two requests instead of losing
one when its sockets close. Against the real server."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference.client import v2_inputs
from tests.integration.serving_fixtures import (
    SERVE_ARGV,
    RegisteredModel,
    serve_env,
)
from tests.services import MlflowServer, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(
    mlflow: MlflowServer,
    registered_model: RegisteredModel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("drain")
    (workdir / "draining").touch()  # left by the last container of the same pod
    env = serve_env(mlflow, workdir, registered_model.name)
    base = (
        f"http://127.0.0.1:{env['CALHOUSING_SERVE__HTTP_PORT']}/v2/models/{registered_model.name}"
    )
    with running(SERVE_ARGV, f"{base}/ready", workdir / "serve.log", timeout_s=180, env=env):
        yield f"{base}/infer", workdir / "draining"


def _infer(client: httpx.Client, url: str, model: RegisteredModel) -> httpx.Response:
    answer = client.post(url, json={"inputs": v2_inputs(model.rows[:1], "columns")}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def test_a_marker_left_from_before_the_start_is_cleared(
    server: tuple[str, Path], registered_model: RegisteredModel
) -> None:
    url, marker = server
    with httpx.Client() as client:
        answers = [_infer(client, url, registered_model) for _ in range(3)]
    assert not marker.exists()
    assert all("connection" not in a.headers for a in answers)


def test_once_the_marker_exists_every_answer_closes_its_connection(
    server: tuple[str, Path], registered_model: RegisteredModel
) -> None:
    url, marker = server
    with httpx.Client() as client:
        _infer(client, url, registered_model)
        marker.touch()
        time.sleep(0.5)  # the middleware looks at most every 0.25 s
        answers = [_infer(client, url, registered_model) for _ in range(3)]
    assert [a.headers.get("connection") for a in answers] == ["close"] * 3
