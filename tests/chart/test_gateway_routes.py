"""V2 REST and gRPC through the Gateway API: an HTTPRoute and a GRPCRoute on the release's own
Gateway (Traefik's entry points, one certificate for every host name) or on a shared one, to
the predictor's Services, admitted by its NetworkPolicy; the official CRDs check their schema
(tests/chart/test_render.py, every profile)."""

from typing import Any

import helm_python
import pytest

from tests.chart.manifests import kinds, merge, one, profile_values, render, render_profile
from tests.chart.test_pod_security import can_connect

TRAEFIK = {"app.kubernetes.io/name": "traefik"}


def test_the_routes_attach_to_the_releases_gateway_and_reach_the_predictor() -> None:
    docs = render_profile("kind-plain")
    rest, grpc = (
        one(docs, "HTTPRoute", "calhousing-rest"),
        one(docs, "GRPCRoute", "calhousing-grpc"),
    )

    assert rest["spec"]["parentRefs"] == grpc["spec"]["parentRefs"] == [{"name": "calhousing"}]
    assert rest["spec"]["hostnames"] == ["calhousing.localtest.me"]
    assert rest["spec"]["rules"] == [{
        "matches": [{"path": {"type": "PathPrefix", "value": "/v2"}}],
        "backendRefs": [{"name": "calhousing-predictor", "port": 80}],
    }]  # fmt: skip
    [rule] = grpc["spec"]["rules"]
    assert rule["matches"][0]["method"]["service"] == "inference.GRPCInferenceService"
    assert rule["backendRefs"] == [{"name": "calhousing-grpc", "port": 8081}]
    assert "Ingress" not in kinds(docs)


def _listeners(docs: Any) -> dict[str, tuple[str, int, str | None, str | None]]:
    return {
        listener["name"]: (
            listener["protocol"],
            listener["port"],
            listener.get("hostname"),
            (listener.get("tls") or {"certificateRefs": [{"name": None}]})["certificateRefs"][0][
                "name"
            ],
        )
        for listener in one(docs, "Gateway", "calhousing")["spec"]["listeners"]
    }


def test_the_releases_gateway_serves_http_and_terminates_tls_for_every_host_name() -> None:
    gateway = one(render_profile("kind-plain"), "Gateway", "calhousing")

    assert gateway["spec"]["gatewayClassName"] == "traefik"
    # Traefik binds a listener to its entry point of the same port (web 8000, websecure 8443).
    assert _listeners(render_profile("kind-plain")) == {
        "http": ("HTTP", 8000, None, None),
        "https-0": ("HTTPS", 8443, "calhousing.localtest.me", "calhousing-gateway-tls"),
        "https-1": ("HTTPS", 8443, "grpc.calhousing.localtest.me", "calhousing-gateway-tls"),
    }
    assert "annotations" not in gateway["metadata"]


def test_on_k3s_cert_manager_issues_the_certificate_of_rest_and_grpc() -> None:
    docs = render_profile("k3s")
    gateway = one(docs, "Gateway", "calhousing")

    assert gateway["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    https = {v[2]: v[3] for v in _listeners(docs).values() if v[0] == "HTTPS"}
    assert https == {
        "calhousing.example.com": "calhousing-gateway-tls",
        "grpc.calhousing.example.com": "calhousing-gateway-tls",
    }


def test_the_routes_attach_to_a_shared_gateway_without_rendering_one() -> None:
    shared = [{"name": "eg", "namespace": "envoy-gateway-system", "sectionName": "https"}]
    docs = render({"gateway": {"enabled": True, "parentRefs": shared}})

    assert "Gateway" not in kinds(docs)
    assert one(docs, "HTTPRoute", "calhousing-rest")["spec"]["parentRefs"] == shared
    assert one(docs, "GRPCRoute", "calhousing-grpc")["spec"]["parentRefs"] == shared


def test_routes_are_off_unless_asked() -> None:
    assert not {"Gateway", "HTTPRoute", "GRPCRoute"} & kinds(render_profile("default"))


def _predictor_labels(docs: Any) -> dict[str, str]:
    deployment = one(docs, "Deployment", "calhousing-predictor")
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def _gateway_peers(docs: Any) -> list[dict[str, Any]]:
    policy = one(docs, "NetworkPolicy", "calhousing-predictor")
    return [
        peer
        for rule in policy["spec"]["ingress"]
        for peer in rule["from"]
        if peer.get("podSelector", {}).get("matchLabels") == TRAEFIK
    ]


@pytest.mark.parametrize(
    ("values", "namespace"),
    [
        (profile_values("kind-plain"), "traefik"),
        (profile_values("local"), "traefik"),
        (profile_values("k3s"), "kube-system"),
        ({"serving": {"mode": "plain"}}, None),
    ],
    ids=["kind-plain", "local", "k3s", "routes-off"],
)
def test_traefiks_pods_reach_the_predictor_only_where_they_run_and_routes_are_on(
    values: dict[str, Any], namespace: str | None
) -> None:
    docs = render(values)
    peers = _gateway_peers(docs)
    if namespace is None:
        assert not peers
    else:
        [peer] = peers
        assert peer["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": namespace}
        }
    # The pod-level check ignores other namespaces: what is left must stay closed.
    assert not can_connect(docs, TRAEFIK, _predictor_labels(docs), 8080)


def test_routes_without_a_gateway_are_refused_by_name() -> None:
    values = merge(profile_values("kind-plain"), {"gateway": {"create": {"enabled": False}}})
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(values)
    assert "/gateway/parentRefs': minItems" in str(err.value)
