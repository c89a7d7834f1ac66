"""V2 REST and gRPC through the Gateway API: an HTTPRoute and a GRPCRoute on the Gateways
named in values, to the predictor's Services, admitted by its NetworkPolicy; the official CRDs
check their schema (tests/chart/test_render.py, the kind-gateway profile)."""

from typing import Any

import helm_python
import pytest

from tests.chart.manifests import kinds, merge, one, profile_values, render, render_profile
from tests.chart.test_pod_security import can_connect

GATEWAY_PODS = {"app.kubernetes.io/name": "envoy"}


def test_the_routes_attach_to_the_gateway_and_reach_the_predictor() -> None:
    docs = render_profile("kind-gateway")
    rest, grpc = (
        one(docs, "HTTPRoute", "calhousing-rest"),
        one(docs, "GRPCRoute", "calhousing-grpc"),
    )

    parents = [{"name": "calhousing", "namespace": "envoy-gateway-system"}]
    assert rest["spec"]["parentRefs"] == grpc["spec"]["parentRefs"] == parents
    assert rest["spec"]["hostnames"] == ["calhousing.localtest.me"]
    assert rest["spec"]["rules"] == [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}],
        "backendRefs": [{"name": "calhousing-predictor", "port": 80}],
    }]  # fmt: skip
    [rule] = grpc["spec"]["rules"]
    assert rule["matches"][0]["method"]["service"] == "inference.GRPCInferenceService"
    assert rule["backendRefs"] == [{"name": "calhousing-grpc", "port": 8081}]
    assert "Ingress" not in kinds(docs)


def test_routes_are_off_unless_asked() -> None:
    assert not {"HTTPRoute", "GRPCRoute"} & kinds(render_profile("default"))


def _predictor_labels(docs: Any) -> dict[str, str]:
    deployment = one(docs, "Deployment", "calhousing-predictor")
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize(("profile", "admitted"), [("kind-gateway", True), ("kind-plain", False)])
def test_the_gateways_proxies_reach_the_predictor_only_when_routes_are_on(
    profile: str, admitted: bool
) -> None:
    docs = list(render_profile(profile))
    policy = one(docs, "NetworkPolicy", "calhousing-predictor")
    gateway_peers = [
        peer
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
        if peer.get("namespaceSelector", {}).get("matchLabels")
        == {"kubernetes.io/metadata.name": "envoy-gateway-system"}
    ]
    assert bool(gateway_peers) == admitted
    # The pod-level check ignores other namespaces: what is left must stay closed.
    assert not can_connect(docs, GATEWAY_PODS, _predictor_labels(docs), 8080)


def test_routes_without_a_gateway_are_refused_by_name() -> None:
    values = merge(profile_values("kind-gateway"), {"gateway": {"parentRefs": []}})
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(values)
    assert "/gateway/parentRefs': minItems" in str(err.value)
