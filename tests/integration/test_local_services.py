"""`calhousing local start|stop` against a real MLflow server, through the real CLI."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.services import free_port

pytestmark = pytest.mark.integration


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "calhousing", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def _env(tmp_path: Path, backend: str | None = None) -> dict[str, str]:
    return {
        "CALHOUSING_PARAMS": str(tmp_path / "no-params.yaml"),
        "CALHOUSING_LOCAL__RUN_DIR": str(tmp_path / "run"),
        "CALHOUSING_MLFLOW__PORT": str(free_port()),
        "CALHOUSING_MLFLOW__BACKEND_STORE_URI": backend or f"sqlite:///{tmp_path}/mlflow.db",
        "CALHOUSING_MLFLOW__ARTIFACTS_DESTINATION": str(tmp_path / "artifacts"),
    }


def test_start_is_idempotent_and_stop_ends_the_service(tmp_path: Path) -> None:
    env = _env(tmp_path)
    health = f"http://127.0.0.1:{env['CALHOUSING_MLFLOW__PORT']}/health"
    try:
        first = _cli(["local", "start", "mlflow"], env)
        assert first.returncode == 0, first.stderr
        assert "ready at" in first.stdout
        assert httpx.get(health).status_code == 200
        assert "already running" in _cli(["local", "start", "mlflow"], env).stdout
    finally:
        stopped = _cli(["local", "stop"], env)
    assert "mlflow: stopped" in stopped.stdout
    assert not (tmp_path / "run" / "pids" / "mlflow.pid").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(health)


def test_a_service_that_dies_at_start_reports_why(tmp_path: Path) -> None:
    result = _cli(["local", "start", "mlflow"], _env(tmp_path, backend="nosuchscheme://x"))

    assert result.returncode == 1
    assert "error: local-start: mlflow exited" in result.stderr
    assert "nosuchscheme" in result.stderr  # the log's tail names the cause


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    result = _cli(["local", "start", "postgres"], _env(tmp_path))

    assert result.returncode == 1
    assert "unknown service 'postgres'" in result.stderr
