"""The database's Secret, made once by the chart's hook as the hook makes it: with the hook's
own ServiceAccount and RBAC, against the real API server and authorizer. The install itself
runs the hook Job (tests/cluster/test_release.py)."""

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from calhousing.secret_init import create_once
from tests.chart.manifests import render
from tests.cluster.conftest import Namespace

pytestmark = pytest.mark.cluster
ACCOUNT, NAME = "calhousing-secret-init", "calhousing-postgresql"
KEYS = ["password", "predlog-password"]


def test_the_hook_creates_the_secret_once_and_can_read_no_secret(
    restricted_namespace: Namespace,
) -> None:
    kube, ns = restricted_namespace.kube, restricted_namespace.name
    rbac = [d for d in render({}, namespace=ns) if d["kind"] in ("ServiceAccount", "Role",
            "RoleBinding") and d["metadata"]["name"] == ACCOUNT]  # fmt: skip
    assert len(rbac) == 3
    kube.apply(rbac, "-n", ns)
    api = kube.api_as(ACCOUNT, ns)

    assert create_once(api, ns, NAME, KEYS, {"app.kubernetes.io/instance": "calhousing"})
    made = kube.get("-n", ns, "secret", NAME)
    # A second run (every upgrade runs the hook) leaves it exactly as it was.
    assert not create_once(api, ns, NAME, KEYS, {})
    assert kube.get("-n", ns, "secret", NAME)["data"] == made["data"]
    assert set(made["data"]) == set(KEYS)
    assert made["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).read_namespaced_secret(NAME, ns)
    assert refused.value.status == 403
