"""The load through MLflow's client: resolve the version, download its MLflow model and
deserialize the estimator (skops), compile it where it is a boosted forest.

The path for a version without a forest file, or whose artifacts are not behind the tracking
server's proxy. mlflow is imported inside the functions: it takes ~5 s.
"""

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import registry
from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile
from inference import booster
from inference.loaded import (
    LoadedModel,
    ModelRef,
    ModelUnavailableError,
    Phases,
    Regressor,
    parse_uri,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient


# MLflow's codes for a server that failed this once (overloaded, restarting, its database
# busy): worth another look, unlike a refusal or a missing file.
TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})


def resolve(client: "MlflowClient", uri: str) -> ModelRef:
    """The version `uri` points to, asked of the registry (fails if it does not resolve)."""
    from mlflow.exceptions import MlflowException

    name, alias, version = parse_uri(uri)
    try:
        found = (
            client.get_model_version_by_alias(name, alias)
            if alias is not None
            else client.get_model_version(name, str(version))
        )
    except MlflowException as err:
        message = f"{uri} does not resolve in the registry: {err.message}"
        # No such model yet, or the model exists but the alias is not set yet (MLflow has no
        # error code of its own for that: a fresh install between register and promote).
        missing_alias = alias is not None and f"alias {alias} not found" in err.message
        if err.error_code in {"RESOURCE_DOES_NOT_EXIST", *TRANSIENT_CODES} or missing_alias:
            raise ModelUnavailableError(message) from err
        raise CalhousingError(message) from err
    return ModelRef(name, str(found.version), str(found.run_id or ""))


def _client(tracking_uri: str) -> Any:
    """A registry client, after one health check: MLflow not answering means "not available
    yet" to a predictor (its own client would retry for minutes)."""
    try:
        return registry.connect(tracking_uri)
    except CalhousingError as err:
        raise ModelUnavailableError(str(err)) from err


def load(uri: str, tracking_uri: str, scratch: Path, *, compiled: bool) -> LoadedModel:
    """Resolve `uri` with MLflow's client, then load that exact version (`compiled`: predict
    through inference.booster where it matches the estimator). A registry that fails only for
    now (a dropped connection, a 5xx) raises ModelUnavailableError."""
    from mlflow.exceptions import MlflowException

    try:
        return _load(uri, tracking_uri, scratch, compiled=compiled)
    except MlflowException as err:  # MLflow's client wraps a dropped connection in one too
        if err.error_code in TRANSIENT_CODES:
            raise ModelUnavailableError(f"{uri}: the registry failed: {err.message}") from err
        raise


def _load(uri: str, tracking_uri: str, scratch: Path, *, compiled: bool) -> LoadedModel:
    phases = Phases()
    with phases("import mlflow"):  # timed on its own: most of this path's start
        import mlflow.artifacts  # noqa: F401
    with phases("resolve"):
        client = _client(tracking_uri)
        ref = resolve(client, uri)
    scratch.mkdir(parents=True, exist_ok=True)
    # The files are needed only until the estimator is in memory.
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        estimator, predictor = _estimator(client, ref, tracking_uri, Path(folder), phases)
        with phases("profile"):
            profile = _profile(ref, tracking_uri, Path(folder))
    if compiled:
        with phases("compile"):
            estimator, predictor = booster.compile_estimator(estimator)
    tags = dict(client.get_run(ref.run_id).data.tags) if ref.run_id else {}
    return LoadedModel(ref, estimator, tags, profile, predictor, phases.summary())


def _estimator(
    client: Any, ref: ModelRef, tracking_uri: str, folder: Path, phases: "Phases"
) -> tuple[Regressor, str]:
    """The version's scikit-learn estimator, from its MLflow model (skops)."""
    import mlflow.artifacts
    import mlflow.sklearn

    # By the version's storage URI, not `models:/...`: MLflow 3.17 resolves a models:/ URI
    # against the process-wide registry URI whatever is passed here (falling back to a local
    # ./mlflow.db), which would fail or read the wrong registry.
    source = client.get_model_version_download_uri(ref.name, ref.version)
    with phases("download model"):
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(folder / "model"), tracking_uri=tracking_uri
        )
    with phases("deserialize"):  # with the skops trusted types the MLmodel file records
        estimator: Regressor = mlflow.sklearn.load_model(local)
    check_features(ref, estimator)
    return estimator, "served by scikit-learn"


def _profile(ref: ModelRef, tracking_uri: str, folder: Path) -> ReferenceProfile | None:
    if not ref.run_id:
        return None
    try:
        return registry.reference_profile(tracking_uri, ref.run_id, folder / "profile")
    except CalhousingError:
        return None


def check_features(ref: ModelRef, estimator: Regressor) -> None:
    """Serving passes columns by position: refuse a model fitted on other columns or order."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None and tuple(fitted) != FEATURE_NAMES:
        raise CalhousingError(
            f"{ref.uri} was fitted on columns {list(fitted)}, not {list(FEATURE_NAMES)}"
        )
