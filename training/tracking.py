"""MLflow at the edge: connect (failing fast with a readable message), describe runs."""

import subprocess
from typing import Any

from core import registry
from core.registry import RunTag
from core.settings import MlflowSettings, Settings
from training.datasets import Manifest


def connect(settings: MlflowSettings) -> Any:
    """An MlflowClient on the tracking server, which also serves the registry."""
    client = registry.connect(settings.tracking_uri)
    import mlflow

    # The fluent API (start_run, log_*) that training logs its runs with goes here too.
    mlflow.set_tracking_uri(settings.tracking_uri)
    return client


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
    tags: dict[str, str] = {
        RunTag.FAMILY: family,
        RunTag.DATA_VERSION: manifest.data_version,
        RunTag.RECENT_DATA_VERSION: manifest.recent_version,
        RunTag.DATA_SOURCE: manifest.source,
        RunTag.DATA_ROWS: str(sum(manifest.rows.values())),
    }
    sha = git_sha()
    return tags | ({RunTag.GIT_SHA: sha} if sha else {})


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
