"""The generated Secret of a release, created once: what Helm's `lookup` did, without it.

Argo CD renders charts without a cluster, where `lookup` finds nothing, so a password made in a
template changes at every sync while the database keeps the first one. The chart instead runs
this in a pre-install/pre-upgrade hook: the Secret is created with random values on the first
install and never changed afterwards. Its ServiceAccount may create Secrets, not read them, so
an existing Secret is recognised by the API server's 409, not by looking at it.
"""

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

ALPHABET = string.ascii_letters + string.digits
# Not Helm's to delete: the database on its volume outlives an uninstall, and so must this.
ANNOTATIONS = {"helm.sh/resource-policy": "keep"}


def random_values(keys: Sequence[str], length: int = 32) -> dict[str, str]:
    """One random value per key; letters and digits, safe inside a connection URL."""
    return {key: "".join(secrets.choice(ALPHABET) for _ in range(length)) for key in keys}


def create_once(
    api_client: Any, namespace: str, name: str, keys: Sequence[str], labels: Mapping[str, str]
) -> bool:
    """Creates Secret `name` with a random value per key; False when it exists already."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=dict(labels), annotations=ANNOTATIONS),
        type="Opaque",
        string_data=random_values(keys),
    )
    try:
        client.CoreV1Api(api_client).create_namespaced_secret(namespace, body)
    except ApiException as err:
        if err.status == 409:
            return False
        raise
    return True
