"""One release of the chart on the local cluster, and how tests reach it: the Services'
cluster IPs (the host routes to them through kube-proxy's rules, as a pod would) and MLflow's
REST API with the Host header of its in-cluster name (MLflow refuses other hosts)."""

import base64
import csv
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import URL

from inference.client import GrpcClient, Prediction, RestClient, v2_inputs
from tests.cluster.kube import REPO, Kube

MODEL = "calhousing"
BATCH = 20
"""Rows per request of the scenario traffic: row `i` is row `i % BATCH` of request `i // BATCH`."""


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

    def send(self, rows: np.ndarray, prefix: str) -> list[Prediction]:
        """POST `rows` through the predictor Service in batches, request ids `<prefix>-<n>`."""
        with self.rest() as rest:
            return [
                rest.send({"id": f"{prefix}-{start // BATCH}",
                           "inputs": v2_inputs(rows[start : start + BATCH], "columns")})
                for start in range(0, len(rows), BATCH)
            ]  # fmt: skip

    def predlog_url(self) -> str:
        """The prediction log as its own role reaches it, on the database pod's address (its
        Service is headless; the host routes to pods as to Services)."""
        secret = self.get("secret", f"{self.name}-postgresql")["data"]["predlog-password"]
        pod_ip = self.get("pod", f"{self.name}-postgresql-0")["status"]["podIP"]
        url = URL.create("postgresql", "predlog", base64.b64decode(secret).decode(),
                         pod_ip, 5432, "predictions")  # fmt: skip
        return url.render_as_string(hide_password=False)

    def feedback(self, labels: Iterable[tuple[str, int, float]], folder: Path) -> str:
        """`calhousing feedback` from outside the cluster, as an operator sends labels; its
        output (stored and refused counts, realized RMSE per version)."""
        path = folder / "labels.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["request_id", "row", "value"])
            writer.writerows(labels)
        env = {
            "PATH": str(Path(sys.executable).parent),
            "CALHOUSING_PREDLOG__URL": self.predlog_url(),
        }
        argv = [sys.executable, "-m", "calhousing", "feedback", str(path)]
        run = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stdout

    def job_succeeded(self, name: str) -> bool:
        conditions = self.get("job", name)["status"].get("conditions", [])
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)


def tags(version: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in version.get("tags", [])}


def labels_of(prefix: str, truth: np.ndarray, share: float) -> list[tuple[str, int, float]]:
    """Feedback for the first `share` of the rows `send` posted under `prefix`."""
    count = int(len(truth) * share)
    return [(f"{prefix}-{i // BATCH}", i % BATCH, float(v)) for i, v in enumerate(truth[:count])]


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1)[:2000]


# One real block group per row, in feature order (MedInc ... Longitude).
ROWS = np.array(
    [
        [8.3252, 41.0, 6.984127, 1.02381, 322.0, 2.555556, 37.88, -122.23],
        [3.8462, 52.0, 6.281853, 1.081081, 565.0, 2.181467, 37.85, -122.25],
    ]
)
