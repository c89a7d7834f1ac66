"""Resolve a registry URI to one concrete model version and load that version's estimator.

`models:/calhousing@production` names whatever the alias points to *now*; the server pins the
version it resolved at load time and reports it, so every prediction can be traced to exactly
one registered model even while the alias moves on.

mlflow is imported inside the functions: it takes ~4 s and is needed only while loading.
"""

import logging
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from core import registry
from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile
from core.registry import FOREST_ARTIFACT
from inference import booster

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class ModelUnavailableError(CalhousingError):
    """The model cannot be loaded yet: MLflow does not answer, or the name or alias does not
    exist (a fresh install before its first training run)."""


@dataclass(frozen=True)
class Wait:
    """How long to wait for a model that is not available yet, and how often to look."""

    seconds: float = 0.0
    interval_s: float = 5.0


class Regressor(Protocol):
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[Any]: ...


@dataclass(frozen=True)
class ModelRef:
    """A registered model version: the concrete thing an alias pointed to."""

    name: str
    version: str
    run_id: str = ""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    ref: ModelRef
    estimator: Regressor
    tags: dict[str, str]
    """The training run's tags (`git.sha`, `data.version`, ...): provenance for metrics."""
    profile: ReferenceProfile | None
    """None for a model logged without a profile: it serves, without input distributions."""
    predictor: str = "served by scikit-learn"
    """How predictions are computed (inference.booster's verdict), for the load log."""
    phases: str = ""
    """How long each phase of the load took, for the load log."""


# MLflow's codes for a server that failed this once (overloaded, restarting, its database
# busy): worth another look, unlike a refusal or a missing file.
TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})


def parse_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of `models:/<name>@<alias>` or `models:/<name>/<version>`."""
    match = _MODELS_URI.match(uri)
    if match is None:
        raise CalhousingError(
            f"model URI {uri!r} is not models:/<name>@<alias> or models:/<name>/<version>"
        )
    return match["name"], match["alias"], match["version"]


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


def alias_version(tracking_uri: str, uri: str) -> str | None:
    """The version the alias in `uri` points to now; None while it points nowhere."""
    try:
        return resolve(_client(tracking_uri), uri).version
    except ModelUnavailableError:  # the alias was deleted: keep serving what is loaded
        return None


def load_when_available(
    wait: Wait, uri: str, tracking_uri: str, scratch: Path, *, compiled: bool
) -> LoadedModel:
    """`load`, retried while the model is not available yet, for at most `wait.seconds`."""
    deadline = time.monotonic() + wait.seconds
    while True:
        try:
            return load(uri, tracking_uri, scratch, compiled=compiled)
        except ModelUnavailableError as err:
            if time.monotonic() + wait.interval_s > deadline:
                raise
            log.info("waiting for %s: %s", uri, err)
            time.sleep(wait.interval_s)


def _client(tracking_uri: str) -> Any:
    """A registry client, after one health check: MLflow not answering means "not available
    yet" to a predictor (its own client would retry for minutes)."""
    try:
        return registry.connect(tracking_uri)
    except CalhousingError as err:
        raise ModelUnavailableError(str(err)) from err


def load(uri: str, tracking_uri: str, scratch: Path, *, compiled: bool) -> LoadedModel:
    """Resolve `uri` on the tracking server at `tracking_uri`, then load that exact version
    (`compiled`: predicting through inference.booster where it matches the estimator).

    The tracking URI is passed explicitly rather than set process-wide, so nothing depends
    on MLFLOW_TRACKING_URI in the environment. A registry that fails only for now (a dropped
    connection, a 5xx) raises ModelUnavailableError: a predictor waiting for its first model keeps
    waiting instead of exiting, as one did while the first model was being registered.
    """
    from mlflow.exceptions import MlflowException

    try:
        return _load(uri, tracking_uri, scratch, compiled=compiled)
    except MlflowException as err:  # MLflow's client wraps a dropped connection in one too
        if err.error_code in TRANSIENT_CODES:
            raise ModelUnavailableError(f"{uri}: the registry failed: {err.message}") from err
        raise


def _load(uri: str, tracking_uri: str, scratch: Path, *, compiled: bool) -> LoadedModel:
    phases = Phases()
    with phases("resolve"):
        client = _client(tracking_uri)
        ref = resolve(client, uri)
    scratch.mkdir(parents=True, exist_ok=True)
    # The files are needed only until the predictor is in memory.
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        forest_file = _forest_file(ref, tracking_uri, Path(folder), phases) if compiled else None
        estimator: Regressor
        if forest_file is not None:
            with phases("tables"):
                estimator, predictor = booster.from_file(forest_file)
        else:
            estimator, predictor = _estimator(client, ref, tracking_uri, Path(folder), phases)
        with phases("profile"):
            profile = _profile(ref, tracking_uri, Path(folder))
    if forest_file is None and compiled:
        with phases("compile"):
            estimator, predictor = booster.compile_estimator(estimator)
    tags = dict(client.get_run(ref.run_id).data.tags) if ref.run_id else {}
    return LoadedModel(ref, estimator, tags, profile, predictor, phases.summary())


def _forest_file(ref: ModelRef, tracking_uri: str, folder: Path, phases: "Phases") -> Path | None:
    """The forest training logged with the version's run; None for a run without one."""
    if not ref.run_id:
        return None
    with phases("download forest"):
        try:
            return registry.run_artifact(tracking_uri, ref.run_id, FOREST_ARTIFACT, folder)
        except CalhousingError:
            return None


def _estimator(
    client: Any, ref: ModelRef, tracking_uri: str, folder: Path, phases: "Phases"
) -> tuple[Regressor, str]:
    """The version's scikit-learn estimator, from its MLflow model (skops)."""
    with phases("import mlflow"):
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


class Phases:
    """Where a load spends its time, for the load log (start to ready is mostly this)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - start

    def summary(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{name} {s:.2f} s" for name, s in self.seconds.items())
        return f"in {total:.1f} s: {parts}"


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
