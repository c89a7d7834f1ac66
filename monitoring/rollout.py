"""Rollout: serving moves to the version the alias now names, without dropping a request.

- `reload`: MLServer's repository API loads the alias's new version beside the old one and
  unloads the old one only then (local; the server publishes its model settings for this);
- `deployment`: a rolling restart of the predictor Deployment, as `kubectl rollout restart`
  does it (a pod template annotation; maxUnavailable 0 keeps capacity);
- `inferenceservice`: the same annotation on the InferenceService's predictor, which KServe
  turns into a new rollout of its Deployment.
The annotation value is the target version, so patching twice for one version is a no-op.
"""

from typing import Any, Protocol

import httpx

from core.errors import CalhousingError
from core.settings import Settings

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
VERSION_ANNOTATION = "calhousing.io/model-version"
RELOAD_TIMEOUT_S = 300.0


class Rollout(Protocol):
    def roll(self, version: str) -> str: ...


class ReloadRollout:
    def __init__(self, base_url: str, model: str) -> None:
        self.base_url, self.model = base_url, model

    def roll(self, version: str) -> str:
        url = f"{self.base_url}/v2/repository/models/{self.model}/load"
        try:
            httpx.post(url, timeout=RELOAD_TIMEOUT_S).raise_for_status()
        except httpx.HTTPError as err:
            raise CalhousingError(f"reload of {self.model} at {url} failed: {err}") from err
        return f"reloaded {self.model} at {self.base_url} (alias now v{version})"


def template_patch(version: str, restarted_at: str) -> dict[str, Any]:
    annotations = {RESTARTED_AT: restarted_at, VERSION_ANNOTATION: version}
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


class DeploymentRollout:
    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        from kubernetes import client

        self.api = client.AppsV1Api(api_client)
        self.namespace, self.name = namespace, name

    def roll(self, version: str) -> str:
        from datetime import UTC, datetime

        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.api.patch_namespaced_deployment(
            self.name, self.namespace, template_patch(version, now)
        )
        return f"rolling restart of Deployment {self.name} for v{version}"


class InferenceServiceRollout:
    def __init__(self, api_client: Any, namespace: str, name: str) -> None:
        from kubernetes import client

        self.api = client.CustomObjectsApi(api_client)
        self.namespace, self.name = namespace, name

    def roll(self, version: str) -> str:
        body = {"spec": {"predictor": {"annotations": {VERSION_ANNOTATION: version}}}}
        self.api.patch_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", self.namespace, "inferenceservices", self.name, body
        )
        return f"InferenceService {self.name} updated for v{version}"


def rollout_for(settings: Settings, api_client: Any | None = None) -> Rollout:
    drift, serve = settings.drift, settings.serve
    if drift.rollout == "reload":
        return ReloadRollout(f"http://{serve.host}:{serve.http_port}", settings.registry.model_name)
    if api_client is None:
        from monitoring.launchers import kubernetes_client

        api_client = kubernetes_client()
    kind = DeploymentRollout if drift.rollout == "deployment" else InferenceServiceRollout
    return kind(api_client, drift.namespace, drift.rollout_target)


def reconcile(settings: Settings, production: str, served: str | None) -> str:
    """Roll out when the prediction log's latest answer came from another version than the
    alias names now (after a promotion); nothing when they agree."""
    if served == production:
        return f"rollout: v{production} already serves"
    return "rollout: " + rollout_for(settings).roll(production)
