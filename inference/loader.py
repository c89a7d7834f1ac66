"""Resolve a registry URI to one concrete model version and load that version's predictor.

`models:/calhousing@production` names whatever the alias points to *now*; the server pins the
version it resolved at load time and reports it, so every prediction can be traced to exactly
one registered model even while the alias moves on.

Two ways, the first preferred: the forest file training logged with the version's run, fetched
over MLflow's REST API (inference.tracking_http: no `import mlflow`, no estimator to
deserialize; about 0.5 s of a start instead of ~9 s); else the MLflow model itself through
MLflow's client (inference.mlflow_load), for a version without that file or whose artifacts are
stored where only MLflow's client can read them.
"""

import logging
import tempfile
import time
from pathlib import Path

from core.profile import ReferenceProfile
from core.registry import FOREST_ARTIFACT, PROFILE_ARTIFACT
from inference import booster, mlflow_load
from inference.loaded import (
    LoadedModel,
    ModelRef,
    ModelUnavailableError,
    Phases,
    Regressor,
    Wait,
    parse_uri,
)
from inference.tracking_http import Run, Tracking, TrackingUnavailableError

__all__ = ["LoadedModel", "ModelRef", "ModelUnavailableError", "Regressor", "Wait", "parse_uri"]
log = logging.getLogger(__name__)


def load_when_available(
    wait: Wait, uri: str, tracking: Tracking, scratch: Path, *, compiled: bool
) -> LoadedModel:
    """`load`, retried while the model is not available yet, for at most `wait.seconds`."""
    deadline = time.monotonic() + wait.seconds
    while True:
        try:
            return load(uri, tracking, scratch, compiled=compiled)
        except ModelUnavailableError as err:
            if time.monotonic() + wait.interval_s > deadline:
                raise
            log.info("waiting for %s: %s", uri, err)
            time.sleep(wait.interval_s)


def load(uri: str, tracking: Tracking, scratch: Path, *, compiled: bool) -> LoadedModel:
    """Load the version `uri` names on the `tracking` server, from its forest
    file where it has one (and `compiled`), else through MLflow's client. A registry that
    fails only for now raises ModelUnavailableError: a predictor waiting for its first model
    keeps waiting instead of exiting."""
    if compiled:
        try:
            loaded = _from_forest(uri, tracking, scratch)
        except TrackingUnavailableError as err:
            raise ModelUnavailableError(str(err)) from err
        if loaded is not None:
            return loaded
    return mlflow_load.load(uri, tracking.uri, scratch, compiled=compiled)


def _from_forest(uri: str, tracking: Tracking, scratch: Path) -> LoadedModel | None:
    phases = Phases()
    with phases("resolve"):
        ref = resolve(tracking, uri)
        run = tracking.run(ref.run_id) if ref.run_id else None
    if run is None:
        return None
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        with phases("download forest"):
            forest_file = tracking.download(run, FOREST_ARTIFACT, Path(folder))
        if forest_file is None:
            return None
        with phases("tables"):
            predictor, how = booster.from_file(forest_file)
        with phases("profile"):
            profile = _profile(tracking, run, Path(folder))
    return LoadedModel(ref, predictor, run.tags, profile, how, phases.summary())


def resolve(tracking: Tracking, uri: str) -> ModelRef:
    """The version `uri` points to, asked of the registry over HTTP."""
    name, alias, version = parse_uri(uri)
    try:
        found, run_id = tracking.version(name, alias, version)
    except TrackingUnavailableError as err:
        raise TrackingUnavailableError(f"{uri} does not resolve in the registry: {err}") from err
    return ModelRef(name, found, run_id)


def _profile(tracking: Tracking, run: Run, folder: Path) -> ReferenceProfile | None:
    path = tracking.download(run, PROFILE_ARTIFACT, folder)
    return None if path is None else ReferenceProfile.model_validate_json(path.read_text())


def alias_version(tracking: Tracking, uri: str) -> str | None:
    """The version the alias in `uri` points to now; None while it points nowhere."""
    try:
        return resolve(tracking, uri).version
    except TrackingUnavailableError:  # the alias was deleted: keep serving what is loaded
        return None
