"""MLflow at the edge: connect (failing fast with a readable message), describe runs."""

import subprocess
from typing import Any

import httpx

from calhousing.errors import CalhousingError
from calhousing.settings import MlflowSettings, Settings
from training.datasets import Manifest

HEALTH_TIMEOUT_S = 5.0


def check_reachable(uri: str) -> None:
    """MLflow's client retries an unreachable server for minutes: ask /health once instead."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        httpx.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as err:
        raise CalhousingError(f"MLflow at {uri} unreachable: {err}") from err


def connect(settings: MlflowSettings) -> Any:
    """An MlflowClient on the tracking server, which also serves the registry."""
    check_reachable(settings.tracking_uri)
    import mlflow

    mlflow.set_tracking_uri(settings.tracking_uri)
    return mlflow.MlflowClient(settings.tracking_uri)


def git_sha() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def run_tags(family: str, manifest: Manifest) -> dict[str, str]:
    """What makes a run traceable to the exact data (DVC's md5) and code that produced it."""
    tags = {
        "family": family,
        "data.version": manifest.data_version,
        "data.source": manifest.source,
        "data.rows": str(sum(manifest.rows.values())),
    }
    sha = git_sha()
    return tags | ({"git.sha": sha} if sha else {})


def run_params(settings: Settings, family: str, hyperparams: dict[str, Any]) -> dict[str, Any]:
    data = settings.data
    return {
        "family": family,
        "seed": settings.train.seed,
        "holdout_fraction": data.holdout_fraction,
        "validation_fraction": data.validation_fraction,
        "split_salt": data.split_salt,
        **hyperparams,
    }
