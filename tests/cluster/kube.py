"""The local cluster as tests drive it: the real kubectl and helm binaries against the
kubeconfig `make local-cluster` writes, with JSON out and the command's stderr in every
failure. Paths come from k8s/local/env.sh, the scripts' one source of settings."""

import base64
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "calhousing"
LOCAL_VALUES = CHART / "ci" / "local-values.yaml"
T = TypeVar("T")


SETTINGS = ("KUBECONFIG_FILE", "BIN_DIR", "HELM_DIR", "COREDNS_VERSION", "K8S_VERSION")


@cache
def cluster_env() -> dict[str, str]:
    """The local cluster scripts' settings, as k8s/local/env.sh derives them."""
    script = f". {REPO}/k8s/local/env.sh && printf '%s\\0' " + " ".join(
        f'"{name}=${name}"' for name in SETTINGS
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if item)


class KubeError(RuntimeError):
    """A kubectl or helm call failed; the message holds its argv and stderr."""


@dataclass(frozen=True)
class Kube:
    kubeconfig: Path
    bin_dir: Path
    helm_bin: Path

    @classmethod
    def local(cls) -> "Kube":
        env = cluster_env()
        return cls(
            Path(env["KUBECONFIG_FILE"]), Path(env["BIN_DIR"]), Path(env["HELM_DIR"]) / "helm"
        )

    def run(self, tool: str, *args: str, input: str | None = None, timeout: float = 600) -> str:
        binary = self.helm_bin if tool == "helm" else self.bin_dir / tool
        argv = [str(binary), "--kubeconfig", str(self.kubeconfig), *args]
        done = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise KubeError(f"{' '.join(argv[3:])} exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 600) -> str:
        return self.run("kubectl", *args, input=input, timeout=timeout)

    def helm(self, *args: str, timeout: float = 900) -> str:
        return self.run("helm", *args, timeout=timeout)

    def get(self, *args: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", "-o", "json", *args))
        return found

    def items(self, *args: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(*args)["items"]
        return items

    def apply(self, manifest: dict[str, Any] | list[dict[str, Any]], *args: str) -> str:
        docs = manifest if isinstance(manifest, list) else [manifest]
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
        return self.kubectl("apply", "-f", "-", *args, input=body)

    def api_as(self, account: str, namespace: str) -> Any:
        """A Python API client that authenticates as a ServiceAccount, with its own token."""
        from kubernetes import client

        token = self.kubectl("create", "token", account, "-n", namespace).strip()
        config = json.loads(self.kubectl("config", "view", "--raw", "-o", "json"))
        cluster = config["clusters"][0]["cluster"]
        ca = self.kubeconfig.parent / "ca.crt"
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        configuration = client.Configuration()
        configuration.host = cluster["server"]
        configuration.ssl_ca_cert = str(ca)
        configuration.api_key = {"authorization": f"Bearer {token}"}
        return client.ApiClient(configuration)


def eventually(probe: Callable[[], T | None], timeout_s: float, what: str, step_s: float = 1) -> T:
    """The first truthy result of `probe` within `timeout_s`; fails naming `what`."""
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except (KubeError, OSError) as err:
            last = err
        time.sleep(step_s)
    raise AssertionError(
        f"{what}: not after {timeout_s:.0f} s" + (f" (last: {last})" if last else "")
    )
