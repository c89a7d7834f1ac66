"""Background services for the local demo: start detached, wait until ready, stop by pid file.

Everything lives under `local.run_dir`: `logs/<service>.log` and `pids/<service>.pid`.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.errors import CalhousingError
from core.settings import Settings


@dataclass(frozen=True)
class Service:
    name: str
    command: str
    ready_url: str
    timeout_s: float


def services(settings: Settings) -> dict[str, Service]:
    mlflow, serve = settings.mlflow, settings.serve
    # A first start creates and migrates MLflow's database: over a minute on a busy 2-core box.
    return {
        "mlflow": Service(
            "mlflow", "mlflow-server", f"http://{mlflow.host}:{mlflow.port}/health", 180
        ),
        "serve": Service(
            "serve",
            "serve",
            f"http://{serve.host}:{serve.http_port}/v2/models/{settings.registry.model_name}/ready",
            180,
        ),
    }


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.local.run_dir / "pids" / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return settings.local.run_dir / "logs" / f"{name}.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running_pid(settings: Settings, name: str) -> int | None:
    pid_file = _pid_file(settings, name)
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    return pid if _alive(pid) else None


def is_ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_ready(settings: Settings, service: Service, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + service.timeout_s
    while time.monotonic() < deadline:
        if is_ready(service.ready_url):
            return
        if proc.poll() is not None:
            log = _log_file(settings, service.name)
            raise CalhousingError(
                f"{service.name} exited with code {proc.returncode} before it was ready; "
                f"last lines of {log}:\n{_tail(log)}"
            )
        time.sleep(0.5)
    raise CalhousingError(
        f"{service.name} not ready at {service.ready_url} after {service.timeout_s:.0f} s; "
        f"see {_log_file(settings, service.name)}"
    )


def start(settings: Settings, name: str) -> str:
    """Start `name` unless it already runs; return where it answers."""
    catalogue = services(settings)
    if name not in catalogue:
        raise CalhousingError(f"unknown service {name!r}; choose from {sorted(catalogue)}")
    service = catalogue[name]
    if running_pid(settings, name) and is_ready(service.ready_url):
        return f"{name}: already running, ready at {service.ready_url}"
    for path in (_pid_file(settings, name), _log_file(settings, name)):
        path.parent.mkdir(parents=True, exist_ok=True)
    with _log_file(settings, name).open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "calhousing", service.command],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    _pid_file(settings, name).write_text(str(proc.pid))
    try:
        _wait_ready(settings, service, proc)
    except CalhousingError:
        stop(settings, name)
        raise
    return f"{name}: ready at {service.ready_url} (pid {proc.pid}, log {_log_file(settings, name)})"


def stop(settings: Settings, name: str, grace_s: float = 20) -> str:
    pid = running_pid(settings, name)
    _pid_file(settings, name).unlink(missing_ok=True)
    if pid is None:
        return f"{name}: not running"
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
        return f"{name}: killed (pid {pid}) after {grace_s:.0f} s"
    return f"{name}: stopped (pid {pid})"


def stop_all(settings: Settings) -> str:
    # Serving first: it depends on MLflow, not the other way round.
    return "\n".join(stop(settings, name) for name in ("serve", "mlflow"))
