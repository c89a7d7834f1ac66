"""Runs last in this folder: `make local-cluster-down` stops every process of the cluster and
leaves the host as it found it (mounts, links, netns, netfilter, cgroups, /run, /var/lib,
sysctls), and a second run is safe. Compared with the snapshot up.sh took before starting."""

import subprocess

import pytest

from tests.cluster.kube import REPO, Kube

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(300)]
SCRIPTS = REPO / "k8s" / "local"


def _host_state() -> str:
    return subprocess.run(
        [str(SCRIPTS / "host-state.sh")], capture_output=True, text=True, check=True
    ).stdout


def test_cluster_down_twice_leaves_the_host_as_before(kube: Kube) -> None:
    snapshot = kube.kubeconfig.parent / "host-before"
    if not snapshot.exists():
        pytest.fail(f"{snapshot} is missing: this cluster was started before up.sh kept one; "
                    "run `make local-cluster-down` once, then `make test`")  # fmt: skip
    before = snapshot.read_text()
    for _ in range(2):
        subprocess.run([str(SCRIPTS / "down.sh")], check=True, timeout=240)
        after = _host_state()
        assert after == before, "\n".join(
            sorted(set(after.splitlines()) ^ set(before.splitlines()))
        )
    assert not kube.kubeconfig.exists()
