"""The two launchers of a retrain: a local `calhousing pipeline` process, and a Kubernetes Job
made from the retrain CronJob's template exactly as `kubectl create job --from=cronjob/...`
makes it (same labels and spec, the `instantiate: manual` annotation, the CronJob as owner).
"""

import os
import subprocess
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any, cast

from core.errors import CalhousingError
from core.settings import Settings, child_environment
from monitoring.trigger import Launched, Launcher, RetrainRequest

INSTANTIATE = "cronjob.kubernetes.io/instantiate"
LABEL_PREFIX = "calhousing.io"
NAME_LIMIT = 63  # Job names become pod labels: at most 63 characters


class ProcessLauncher:
    """Runs the pipeline here, in the foreground: the local demo's retrain."""

    kind = "process"

    def __init__(self, run_dir: Path, env: dict[str, str] | None = None) -> None:
        self.run_dir, self.env = run_dir, env

    def _pid_file(self) -> Path:
        return self.run_dir / "pids" / "retrain.pid"

    def active(self) -> str | None:
        try:
            pid = int(self._pid_file().read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return f"pid {pid}"

    def launch(self, request: RetrainRequest) -> Launched:
        name = f"retrain-{request.window}"
        log = self.run_dir / "logs" / f"{name}.log"
        for folder in (log.parent, self._pid_file().parent):
            folder.mkdir(parents=True, exist_ok=True)
        env = (
            {**self.env, **request.env} if self.env is not None else child_environment(request.env)
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "calhousing", "pipeline"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            )  # fmt: skip
            self._pid_file().write_text(str(proc.pid))
            code = proc.wait()
        self._pid_file().unlink(missing_ok=True)
        if code != 0:
            raise CalhousingError(f"retrain {name} exited {code}; see {log}")
        return Launched(name, created=True)


def job_name(cronjob: str, window: int) -> str:
    suffix = f"-drift-{window}"
    return cronjob[: NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def job_from_cronjob(cronjob: dict[str, Any], name: str, request: RetrainRequest) -> dict[str, Any]:
    """The Job `kubectl create job --from=cronjob/<name>` creates, plus the trigger's labels,
    annotations and environment (on every container of the pod, so the training run sees it)."""
    template = deepcopy(cronjob["spec"]["jobTemplate"])
    meta = template.get("metadata", {})
    labels = {
        **meta.get("labels", {}),
        f"{LABEL_PREFIX}/trigger": "drift",
        f"{LABEL_PREFIX}/drift-window": str(request.window),
    }
    annotations = {
        INSTANTIATE: "manual",
        **meta.get("annotations", {}),
        f"{LABEL_PREFIX}/trigger-reason": request.reason,
        f"{LABEL_PREFIX}/drift-psi": request.tags["trigger.psi"],
    }
    spec = template["spec"]
    for container in spec["template"]["spec"]["containers"]:
        env = [e for e in container.get("env", []) if e["name"] not in request.env]
        container["env"] = env + [{"name": k, "value": v} for k, v in sorted(request.env.items())]
    owner = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": cronjob["metadata"]["name"],
        "uid": cronjob["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cronjob["metadata"]["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def _running(job: dict[str, Any]) -> bool:
    status = job.get("status") or {}
    finished = {c["type"] for c in status.get("conditions") or [] if c.get("status") == "True"}
    return not finished & {"Complete", "Failed"}


class KubernetesLauncher:
    """Creates the retrain Job through the API; 409 AlreadyExists means it was done before."""

    kind = "kubernetes"

    def __init__(self, api_client: Any, namespace: str, cronjob: str) -> None:
        from kubernetes import client

        self.api = client.BatchV1Api(api_client)
        self.namespace, self.cronjob = namespace, cronjob

    def _cronjob(self) -> dict[str, Any]:
        found = self.api.read_namespaced_cron_job(self.cronjob, self.namespace)
        body: dict[str, Any] = self.api.api_client.sanitize_for_serialization(found)
        return body

    def active(self) -> str | None:
        template = self._cronjob()["spec"]["jobTemplate"]["metadata"]["labels"]
        selector = ",".join(f"{k}={v}" for k, v in sorted(template.items()))
        jobs = self.api.list_namespaced_job(self.namespace, label_selector=selector)
        items = self.api.api_client.sanitize_for_serialization(jobs).get("items", [])
        running = [job["metadata"]["name"] for job in items if _running(job)]
        return running[0] if running else None

    def launch(self, request: RetrainRequest) -> Launched:
        from kubernetes.client.exceptions import ApiException

        name = job_name(self.cronjob, request.window)
        job = job_from_cronjob(self._cronjob(), name, request)
        try:
            self.api.create_namespaced_job(self.namespace, cast(Any, job))
        except ApiException as err:
            if err.status == 409:
                return Launched(name, created=False)
            raise CalhousingError(f"creating Job {name}: {err.status} {err.reason}") from err
        return Launched(name, created=True)


def kubernetes_client(configuration: Any | None = None) -> Any:
    """An API client: the given configuration, else the pod's service account, else
    ~/.kube/config."""
    from kubernetes import client, config

    if configuration is None:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config()  # type: ignore[no-untyped-call]
        configuration = client.Configuration.get_default_copy()
    return client.ApiClient(configuration)


def launcher_for(settings: Settings, api_client: Any | None = None) -> Launcher:
    drift = settings.drift
    if drift.launcher == "kubernetes":
        return KubernetesLauncher(
            api_client or kubernetes_client(), drift.namespace, drift.retrain_cronjob
        )
    return ProcessLauncher(settings.local.run_dir)
