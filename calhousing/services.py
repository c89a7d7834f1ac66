"""How the project's long-running services are started: one argv per service, used alike by
`make demo`, the tests and the Helm chart (through `calhousing mlflow-server` / `serve`)."""

import os
import sys
from pathlib import Path

from core.settings import MlflowSettings, Settings


def mlflow_server_argv(mlflow: MlflowSettings) -> list[str]:
    """The tracking server proxies artifacts (`--serve-artifacts`), so clients need no storage
    credentials and in-cluster pods reach artifacts through the same Service."""
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--host", mlflow.host,
        "--port", str(mlflow.port),
        "--backend-store-uri", mlflow.backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination", mlflow.artifacts_destination,
        "--workers", str(mlflow.workers),
    ]  # fmt: skip
    if mlflow.allowed_hosts:
        argv += ["--allowed-hosts", ",".join(mlflow.allowed_hosts)]
    if mlflow.app_name:
        argv += ["--app-name", mlflow.app_name]
    return argv


def _local_dirs(mlflow: MlflowSettings) -> list[Path]:
    dirs = []
    if mlflow.backend_store_uri.startswith("sqlite:///"):
        dirs.append(Path(mlflow.backend_store_uri.removeprefix("sqlite:///")).parent)
    if "://" not in mlflow.artifacts_destination:
        dirs.append(Path(mlflow.artifacts_destination))
    return dirs


def exec_mlflow_server(settings: Settings) -> None:
    """Replace this process with the tracking server, so signals reach it directly."""
    for folder in _local_dirs(settings.mlflow):
        folder.mkdir(parents=True, exist_ok=True)
    argv = mlflow_server_argv(settings.mlflow)
    os.execv(argv[0], argv)
