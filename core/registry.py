"""What MLflow holds for this project, in one place: a client that fails fast when the tracking
server is down, the version an alias names, the reference profile each training run logs, and
the tag names runs and versions carry. Training writes this contract; serving and monitoring
read it. How each component logs runs or loads a model stays with that component.

mlflow is imported inside the functions: it takes ~4 s, kept off CLI start-up.
"""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.errors import CalhousingError
from core.profile import ReferenceProfile

if TYPE_CHECKING:
    from mlflow import MlflowClient

PROFILE_ARTIFACT: Final = "reference_profile.json"
"""The training data's reference profile, logged at the root of every training run."""
FOREST_ARTIFACT: Final = "serving/forest.npz"
"""The boosted forest as arrays (core.forest), logged beside the model when it has one: what
serving loads instead of deserializing the estimator."""
HEALTH_TIMEOUT_S: Final = 5.0


class RunTag(StrEnum):
    """Tags of a training run: what makes it traceable to its data and code."""

    FAMILY = "family"
    DATA_VERSION = "data.version"
    RECENT_DATA_VERSION = "data.recent_version"
    """md5 of the recent labelled snapshot trained on (training.recent); empty: none."""
    DATA_SOURCE = "data.source"
    DATA_ROWS = "data.rows"
    GIT_SHA = "git.sha"
    REFIT_OF = "refit_of"
    """On a model fitted again on train + validation: the run whose family won on validation."""


class VersionTag(StrEnum):
    """Tags of a registered version: the promotion decision taken on it."""

    DECISION = "decision"
    REASON = "decision.reason"
    CHALLENGER_RMSE = "holdout_rmse.challenger"
    CHAMPION_RMSE = "holdout_rmse.champion"
    CHAMPION_VERSION = "champion.version"
    DATA_VERSION = "data.version"
    RECENT_DATA_VERSION = "data.recent_version"
    RECENT_ROWS = "recent_holdout.rows"
    RECENT_CHALLENGER_RMSE = "recent_holdout_rmse.challenger"
    RECENT_CHAMPION_RMSE = "recent_holdout_rmse.champion"


def check_reachable(uri: str) -> None:
    """Fails with a readable message when the tracking server at `uri` does not answer: the
    MLflow client would retry an unreachable server for minutes."""
    if not uri.startswith(("http://", "https://")):
        return
    import httpx  # here: serving imports this module, and httpx costs its start ~0.2 s

    try:
        httpx.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as err:
        raise CalhousingError(f"MLflow at {uri} unreachable: {err}") from err


def connect(tracking_uri: str) -> "MlflowClient":
    """A client of the tracking server at `tracking_uri`, which also serves the registry."""
    check_reachable(tracking_uri)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def alias_version(client: "MlflowClient", model_name: str, alias: str) -> str | None:
    """The version `alias` names now; None before the model's first promotion."""
    from mlflow.exceptions import MlflowException

    try:
        aliases: dict[str, str] = client.get_registered_model(model_name).aliases
    except MlflowException as err:
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    version = aliases.get(alias)
    return None if version is None else str(version)


def run_artifact(tracking_uri: str, run_id: str, artifact_path: str, folder: Path) -> Path:
    """One artifact of run `run_id`, downloaded into `folder`."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id,
            artifact_path=artifact_path,
            dst_path=str(folder),
            tracking_uri=tracking_uri,
        )
    except (MlflowException, OSError) as err:
        raise CalhousingError(f"run {run_id} has no {artifact_path}: {err}") from err
    return Path(local)


def reference_profile(tracking_uri: str, run_id: str, folder: Path) -> ReferenceProfile:
    """The reference profile logged with training run `run_id`, downloaded into `folder`."""
    local = run_artifact(tracking_uri, run_id, PROFILE_ARTIFACT, folder)
    return ReferenceProfile.model_validate_json(local.read_text())


def version_tags(client: "MlflowClient", model_name: str, version: str) -> dict[str, str]:
    tags: dict[str, str] = client.get_model_version(model_name, version).tags
    return tags
