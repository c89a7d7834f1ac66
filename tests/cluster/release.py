"""One release of the chart on the local cluster, and how tests reach it: the Services'
cluster IPs (the host routes to them through kube-proxy's rules, as a pod would) and MLflow's
REST API with the Host header of its in-cluster name (MLflow refuses other hosts)."""

import json
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from inference.client import GrpcClient, RestClient
from tests.cluster.kube import Kube

MODEL = "calhousing"


@dataclass(frozen=True)
class Release:
    kube: Kube
    name: str
    namespace: str

    def kubectl(self, *args: str, timeout: float = 600) -> str:
        return self.kube.kubectl("-n", self.namespace, *args, timeout=timeout)

    def get(self, *args: str) -> dict[str, Any]:
        return self.kube.get("-n", self.namespace, *args)

    def items(self, *args: str) -> list[dict[str, Any]]:
        return self.kube.items("-n", self.namespace, *args)

    def service_ip(self, name: str) -> str:
        ip: str = self.get("service", f"{self.name}-{name}")["spec"]["clusterIP"]
        return ip

    def rest(self) -> RestClient:
        return RestClient(f"http://{self.service_ip('predictor')}", MODEL)

    def grpc(self) -> GrpcClient:
        return GrpcClient(f"{self.service_ip('predictor')}:8081", MODEL)

    def mlflow(
        self, path: str, body: dict[str, str] | None = None, **params: str
    ) -> dict[str, Any]:
        """GET `path` with `params`, or POST `body` to it (what MLflow's UI does)."""
        host = f"{self.name}-mlflow.{self.namespace}.svc.cluster.local:5000"
        url = f"http://{self.service_ip('mlflow')}:5000/api/2.0/mlflow/{path}"
        headers = {"Host": host}
        reply = (
            httpx.post(url, json=body, headers=headers, timeout=30)
            if body is not None
            else httpx.get(url, params=params, headers=headers, timeout=30)
        )
        reply.raise_for_status()
        found: dict[str, Any] = reply.json()
        return found

    def move_alias(self, version: str) -> None:
        """Point @production at `version`, as a person in MLflow's UI would."""
        self.mlflow(
            "registered-models/alias", {"name": MODEL, "alias": "production", "version": version}
        )

    def model_version(self, version: str) -> dict[str, Any]:
        found: dict[str, Any] = self.mlflow("model-versions/get", name=MODEL, version=version)
        version_info: dict[str, Any] = found["model_version"]
        return version_info

    def alias_version(self) -> str:
        found = self.mlflow("registered-models/alias", name=MODEL, alias="production")
        return str(found["model_version"]["version"])

    def wait_job(self, name: str, timeout_s: int = 1200) -> str:
        """Waits for Job `name` to complete (or fail), then returns its pod's log."""
        self.kubectl("wait", f"job/{name}", "--for=jsonpath={.status.conditions[0].status}=True",
                     f"--timeout={timeout_s}s", timeout=timeout_s + 30)  # fmt: skip
        return self.kubectl("logs", f"job/{name}", "--all-containers")

    def job_succeeded(self, name: str) -> bool:
        conditions = self.get("job", name)["status"].get("conditions", [])
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)


def tags(version: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in version.get("tags", [])}


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:2000]


# One real block group per row, in feature order (MedInc ... Longitude).
ROWS = np.array(
    [
        [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23],
        [3.8462, 52.0, 6.281853, 1.081081, 565.0, 2.181467, 37.85, -122.25],
    ]
)
