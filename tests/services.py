"""Real services for integration tests, each on a free local port, started the way the project
starts them (the same argv builders), so a test also checks that contract."""

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from calhousing.services import mlflow_server_argv
from core.settings import MlflowSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{url}: process exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without MLFLOW_* (mlflow.set_tracking_uri exports one in the test
    process, which would hide a service that ignores its own settings), plus `extra`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**inherited, **(extra or {})}


@contextmanager
def running(
    argv: list[str],
    ready_url: str,
    log: Path,
    timeout_s: float = 120,
    env: dict[str, str] | None = None,
) -> Iterator[None]:
    """Run argv (with `env` over ours) until the block ends; fail with the log's tail if it
    never gets ready."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=child_env(env))
    try:
        wait_until_ready(ready_url, proc, log, timeout_s)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class MlflowServer:
    settings: MlflowSettings
    root: Path

    @property
    def uri(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"


@contextmanager
def mlflow_server(root: Path) -> Iterator[MlflowServer]:
    """A real tracking server: SQLite backend and proxied artifacts under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    settings = MlflowSettings(
        host="127.0.0.1",
        port=free_port(),
        backend_store_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifacts_destination=str(root / "artifacts"),
    )
    server = MlflowServer(settings, root)
    with running(mlflow_server_argv(settings), f"{server.uri}/health", root / "mlflow.log"):
        yield server
