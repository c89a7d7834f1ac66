"""The few questions serving asks the tracking server, over MLflow's REST API.

Why not MLflow's client: `import mlflow` takes ~5 s, more than the rest of a predictor's start
once the model is a forest file, and serving needs four calls: which version an alias names,
that version's run (its tags and artifact location), and two of the run's files. Artifacts are
fetched through the server's artifact proxy (`mlflow-artifacts:` locations, what `mlflow
server` with `--artifacts-destination` gives every run); a run stored anywhere else (S3, a
local path) answers None here and the loader falls back to MLflow's client.

Credentials are MLflow's own variables (MLFLOW_TRACKING_USERNAME and _PASSWORD, as the chart
sets them), read through core.settings.

The standard library's urllib, not httpx: httpx takes ~0.2 s to import (its command line
brings rich and pygments), and each `httpx.get` builds a TLS context (~25 ms) even for
http://, four times per load.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, Final

from core.errors import CalhousingError
from core.settings import mlflow_credentials

API: Final = "/api/2.0/mlflow"
ARTIFACTS: Final = "/api/2.0/mlflow-artifacts/artifacts"
PROXIED: Final = "mlflow-artifacts:"


class TrackingUnavailableError(CalhousingError):
    """Not answered for now: the server is down or busy, or the model or alias does not exist
    yet. Worth another look later, unlike a refusal."""


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class Run:
    artifact_uri: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Tracking:
    uri: str
    timeout_s: float = 10.0

    def _get(self, path: str, params: dict[str, str]) -> Answer | None:
        """The answer; None for a 404 (no such model, version, run or file)."""
        answer = self._fetch(path, params)
        if answer.status == 404:
            return None
        if answer.status >= 500 or answer.status == 429:
            raise TrackingUnavailableError(f"MLflow failed: {_said(answer)}")
        if answer.status >= 400:
            raise CalhousingError(f"MLflow refused {path}: {_said(answer)}")
        return answer

    def _fetch(self, path: str, params: dict[str, str]) -> Answer:
        """Whatever status the server answers; only no answer at all raises."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        url = f"{self.uri.rstrip('/')}{path}{query}"
        try:
            return _answer(urllib.request.Request(url, headers=_auth()), self.timeout_s)
        # Refused, reset, timed out, cut short, or no http(s) URL at all (as httpx said).
        except (OSError, HTTPException, ValueError) as err:
            raise TrackingUnavailableError(f"MLflow at {self.uri} unreachable: {err}") from err

    def version(self, name: str, alias: str | None, version: str | None) -> tuple[str, str]:
        """(version, run id) of `name`@`alias`, or of `name` version `version`."""
        if alias is not None:
            path, params = f"{API}/registered-models/alias", {"name": name, "alias": alias}
        else:
            path, params = f"{API}/model-versions/get", {"name": name, "version": str(version)}
        try:
            found = self._get(path, params)
        except CalhousingError as err:
            # The model exists, the alias not yet (between register and promote): MLflow says
            # so with INVALID_PARAMETER_VALUE, no code of its own.
            if alias is not None and f"alias {alias} not found" in str(err):
                raise TrackingUnavailableError(str(err)) from err
            raise
        if found is None:
            raise TrackingUnavailableError(f"no model {name!r} in the registry yet")
        body: dict[str, Any] = found.json()["model_version"]
        return str(body["version"]), str(body.get("run_id") or "")

    def run(self, run_id: str) -> Run:
        found = self._get(f"{API}/runs/get", {"run_id": run_id})
        if found is None:
            raise CalhousingError(f"run {run_id} does not exist")
        info = found.json()["run"]
        tags = {t["key"]: t["value"] for t in info.get("data", {}).get("tags", [])}
        return Run(str(info["info"]["artifact_uri"]), tags)

    def download(self, run: Run, artifact: str, folder: Path) -> Path | None:
        """`artifact` of the run, saved under `folder`; None if the run has no such file or
        its artifacts are not behind the server's proxy."""
        if not run.artifact_uri.startswith(PROXIED):
            return None
        location = run.artifact_uri.removeprefix(PROXIED).strip("/")
        answer = self._get(f"{ARTIFACTS}/{location}/{artifact}", {})
        if answer is None:
            return None
        path = folder / artifact
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(answer.content)
        return path


def _answer(request: urllib.request.Request, timeout_s: float) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as err:  # a status >= 400 is an answer too
        with err:
            return Answer(err.code, err.read())


def _auth() -> dict[str, str]:
    """HTTP basic auth's header, as MLflow's client sends it; none without a user."""
    username, password = mlflow_credentials()
    if not username:
        return {}
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _said(answer: Answer) -> str:
    try:
        message = str(answer.json().get("message", ""))
    except (ValueError, AttributeError):  # not JSON, or JSON but not an object
        message = answer.content[:200].decode(errors="replace")
    return f"{answer.status} {message}"
