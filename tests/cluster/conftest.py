"""Fixtures of the tests on the local cluster (`make local-cluster`): the real API server,
controllers and kubelet, driven by the real kubectl and helm."""

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.kube import Kube, cluster_env


@pytest.fixture(scope="session")
def kube() -> Kube:
    local = Kube.local()
    if not local.kubeconfig.exists():
        pytest.fail(f"{local.kubeconfig} is missing: start the cluster with `make local-cluster`")
    local.kubectl("get", "--raw", "/readyz")
    return local


@pytest.fixture(scope="session", autouse=True)
def versions(kube: Kube) -> None:
    """Prints what the tests ran on: each component's version, the cold build's duration and
    the last start to ready (files written by k8s/local/build.sh and up.sh)."""
    env = cluster_env()
    server = json.loads(kube.kubectl("version", "-o", "json"))["serverVersion"]["gitVersion"]
    [node] = kube.items("nodes")
    info = node["status"]["nodeInfo"]
    etcd = subprocess.run(
        [f"{env['BIN_DIR']}/etcd", "--version"], check=True, capture_output=True, text=True
    )
    print(
        f"\ncluster: Kubernetes {server}; kubelet {info['kubeletVersion']}, "
        f"{info['containerRuntimeVersion']}, {etcd.stdout.splitlines()[0]}, "
        f"CoreDNS {env['COREDNS_VERSION']}, helm {kube.helm('version', '--short').strip()}; "
        f"cold build {_seconds(Path(env['BIN_DIR']) / 'build-seconds')}, "
        f"start to ready {_seconds(kube.kubeconfig.parent / 'start-seconds')}"
    )


def _seconds(path: Path) -> str:
    return f"{path.read_text().strip()} s" if path.exists() else "not recorded"


@dataclass(frozen=True)
class Namespace:
    name: str
    kube: Kube


@pytest.fixture(scope="module")
def restricted_namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """A fresh namespace that enforces Pod Security `restricted`; deleted afterwards."""
    name = "t-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    kube.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=300)
    kube.kubectl("create", "namespace", name)
    kube.kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    yield Namespace(name, kube)
    kube.kubectl("delete", "namespace", name, "--wait=false")
