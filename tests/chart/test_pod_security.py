"""What checkov does not check: Pod Security "restricted" on every pod template (the KServe
predictor included), resources everywhere, service account tokens, RBAC equal to the
declared set, and NetworkPolicies that select every pod and allow exactly the paths we need."""

from typing import Any

import pytest

from tests.chart.manifests import (
    PROFILES,
    Manifest,
    PodTemplate,
    merge,
    one,
    pod_templates,
    profile_values,
    render,
    render_profile,
)

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: PodTemplate) -> list[str]:
    """Pod Security Standard "restricted" (baseline included), as admission reads it."""
    spec, pod_ctx = pod.spec, pod.spec.get("securityContext", {})
    found = [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    found += [
        f"volume {v['name']} is not an allowed type"
        for v in spec.get("volumes", [])
        if not set(v) - {"name"} <= ALLOWED_VOLUMES
    ]
    for container in pod.containers:
        found += [f"container {container['name']} {v}" for v in _container(container, pod_ctx)]
    return found


def _container(c: dict[str, Any], pod_ctx: dict[str, Any]) -> list[str]:
    ctx = c.get("securityContext", {})
    capabilities = ctx.get("capabilities", {})
    seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {})).get("type")
    checks = {
        "is privileged": ctx.get("privileged", False),
        "allows privilege escalation": ctx.get("allowPrivilegeEscalation") is not False,
        "does not drop ALL capabilities": "ALL" not in capabilities.get("drop", []),
        "adds capabilities": bool(set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}),
        "may run as root": not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")),
        "runs as UID 0": 0 in (ctx.get("runAsUser"), pod_ctx.get("runAsUser")),
        "has no RuntimeDefault seccomp profile": seccomp not in ("RuntimeDefault", "Localhost"),
        "uses a hostPort": any("hostPort" in p for p in c.get("ports", [])),
    }
    return [problem for problem, failed in checks.items() if failed]


def pods(profile: str) -> list[PodTemplate]:
    return list(pod_templates(render_profile(profile)))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_meets_pod_security_restricted(profile: str) -> None:
    problems = {p.source: v for p in pods(profile) if (v := restricted_violations(p))}
    assert not problems


def test_the_restricted_check_sees_the_kserve_predictor_and_rejects_a_root_pod() -> None:
    predictor = next(p for p in pods("kind-kserve") if p.source.startswith("InferenceService/"))
    assert predictor.containers[0]["args"] == ["serve"]
    rooted = PodTemplate(
        "x", {}, {}, {**predictor.spec, "securityContext": {}, "containers": [{"name": "c"}]}
    )
    assert len(restricted_violations(rooted)) == 4


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_declares_requests_and_limits(profile: str) -> None:
    for pod in pods(profile):
        for c in pod.containers:
            res = c.get("resources", {})
            assert {"cpu", "memory"} <= set(res.get("requests", {})) & set(res.get("limits", {})), (
                f"{pod.source}/{c['name']}"
            )


@pytest.mark.parametrize("profile", PROFILES)
def test_only_the_api_callers_mount_a_service_account_token(profile: str) -> None:
    """Two workloads call the Kubernetes API: the drift check (retrain Jobs) as the
    retrain trigger's account, and the hook that creates the database's Secret once, as its
    own; no other pod gets a token."""
    mounting = {
        p.labels["app.kubernetes.io/component"]: p.spec["serviceAccountName"]
        for p in pods(profile)
        if p.spec.get("automountServiceAccountToken") is not False
    }
    expected = {"secret-init": "calhousing-secret-init"}
    if profile != "default":  # the cluster profiles enable drift
        expected["drift"] = "calhousing-retrain-trigger"
    assert mounting == expected


@pytest.mark.parametrize("profile", PROFILES)
def test_project_containers_have_a_read_only_root_and_writable_scratch(profile: str) -> None:
    """Every container has a read-only root; ours also need a writable /tmp (MLflow, skops
    and MLServer write there). Third-party images (PostgreSQL, Pushgateway) bring their own."""
    for pod in pods(profile):
        for c in pod.containers:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, (
                f"{pod.source}/{c['name']}"
            )
            if "calhousing-mlops" in c["image"] and c["name"] != "wait-for-mlflow":
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{pod.source}/{c['name']}"


def test_rbac_grants_exactly_the_retrain_trigger_and_secret_init_rules() -> None:
    docs = render_profile("default")
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Role", "ClusterRole")}
    assert {r["kind"] for r in roles.values()} == {"Role"}
    assert roles["calhousing-retrain-trigger"]["rules"] == [
        {
            "apiGroups": ["batch"],
            "resources": ["cronjobs"],
            "resourceNames": ["calhousing-retrain"],
            "verbs": ["get"],
        },
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "watch"],
        },
    ]
    # Create only: it can read no Secret, the one it makes included.
    assert roles["calhousing-secret-init"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}
    ]
    assert set(roles) == {"calhousing-retrain-trigger", "calhousing-secret-init"}
    for binding in (d for d in docs if d["kind"] == "RoleBinding"):
        name = binding["roleRef"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": name, "namespace": "calhousing"}
        ]
    assert not [d for d in docs if d["kind"] == "ClusterRoleBinding"]


def test_the_retrain_trigger_can_be_left_out() -> None:
    docs = render({"retrainTrigger": {"enabled": False}})
    rbac = {"Role", "RoleBinding", "ServiceAccount"}
    assert not [d for d in docs if d["kind"] in rbac and "retrain" in d["metadata"]["name"]]


# A NetworkPolicy evaluator, enough for this chart: same-namespace pod selectors, ipBlocks and
# namespace selectors; a connection needs an egress allow at the source and an ingress allow at
# the destination, once any policy of that direction selects the pod.
def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _selecting(
    docs: list[Manifest], labels: dict[str, str], direction: str
) -> list[dict[str, Any]]:
    return [
        np["spec"]
        for np in docs
        if np["kind"] == "NetworkPolicy"
        and direction in np["spec"]["policyTypes"]
        and _matches(np["spec"]["podSelector"], labels)
    ]


def _peer_allows(peer: dict[str, Any], labels: dict[str, str] | None) -> bool:
    if labels is None:  # outside the cluster
        return "ipBlock" in peer
    return (
        "podSelector" in peer
        and "namespaceSelector" not in peer
        and _matches(peer["podSelector"], labels)
    )


def _allowed(
    specs: list[dict[str, Any]], key: str, peer_key: str, labels: dict[str, str] | None, port: int
) -> bool:
    for spec in specs:
        for rule in spec.get(key) or []:
            peers_ok = not rule.get(peer_key) or any(
                _peer_allows(p, labels) for p in rule[peer_key]
            )
            ports_ok = not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])
            if peers_ok and ports_ok:
                return True
    return False


def can_connect(
    docs: list[Manifest], src: dict[str, str], dst: dict[str, str] | None, port: int
) -> bool:
    egress = _selecting(docs, src, "Egress")
    if egress and not _allowed(egress, "egress", "to", dst, port):
        return False
    ingress = _selecting(docs, dst, "Ingress") if dst is not None else []
    return not ingress or _allowed(ingress, "ingress", "from", src, port)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_is_selected_by_the_default_deny_and_its_own_policy(profile: str) -> None:
    docs = list(render_profile(profile))
    for pod in pods(profile):
        ingress, egress = (
            _selecting(docs, pod.labels, "Ingress"),
            _selecting(docs, pod.labels, "Egress"),
        )
        assert any(not s.get("ingress") and not s.get("egress") for s in ingress), (
            f"{pod.source} escapes the default deny"
        )
        assert len(ingress) >= 2 and len(egress) >= 3, f"{pod.source} has no policy of its own"


def _labels(profile: str, component: str) -> dict[str, str]:
    return next(
        p.labels for p in pods(profile) if p.labels.get("app.kubernetes.io/component") == component
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_network_paths_are_exactly_the_needed_ones(profile: str) -> None:
    docs = list(render_profile(profile))
    training, predictor, mlflow, db, test = (
        _labels(profile, c) for c in ("training", "predictor", "mlflow", "postgresql", "test")
    )
    assert can_connect(docs, training, mlflow, 5000)
    assert can_connect(docs, predictor, mlflow, 5000)
    assert can_connect(docs, mlflow, db, 5432)
    assert can_connect(docs, test, predictor, 8080) and can_connect(docs, test, predictor, 8081)
    # The local profile's data source is in the cluster: its training pods get no internet.
    assert can_connect(docs, training, None, 443) == (profile != "local"), "training's data source"
    assert can_connect(docs, training, db, 5432), "training reads the labelled rows"
    assert can_connect(docs, predictor, db, 5432), "the predictor writes the prediction log"
    assert not can_connect(docs, training, predictor, 8080)
    assert not can_connect(docs, predictor, None, 443), (
        "the predictor has no business on the internet"
    )
    assert not can_connect(docs, test, mlflow, 5000)


SERVED_PORTS = {
    "mlflow": (5000,), "postgresql": (5432,), "predictor": (8080, 8081), "pushgateway": (9091,),
}  # fmt: skip
NEEDED = {
    ("training", "mlflow", 5000), ("predictor", "mlflow", 5000), ("drift", "mlflow", 5000),
    ("mlflow", "postgresql", 5432),
    ("predictor", "postgresql", 5432), ("drift", "postgresql", 5432),  # the prediction log
    ("training", "postgresql", 5432),  # its labelled rows
    ("test", "predictor", 8080), ("test", "predictor", 8081),
    ("training", "pushgateway", 9091), ("drift", "pushgateway", 9091),  # batch metrics
}  # fmt: skip
"""Every path a workload needs inside the release; every other (source, server, port) is refused,
in both directions (the drift check's path to MLflow was once missing: every drift run failed)."""


@pytest.mark.parametrize("profile", PROFILES)
def test_every_path_between_workloads_is_open_exactly_when_needed(profile: str) -> None:
    docs = list(render_profile(profile))
    present = {
        p.labels["app.kubernetes.io/component"]: p.labels
        for p in pods(profile)
        if "app.kubernetes.io/component" in p.labels
    }
    paths = {
        (src, dst, port): can_connect(docs, present[src], present[dst], port)
        for src in present
        for dst, ports in SERVED_PORTS.items()
        if dst in present and dst != src
        for port in ports
    }
    assert {path for path, open_ in paths.items() if open_} == NEEDED & set(paths)
    assert "drift" not in present or ("drift", "mlflow", 5000) in paths


def test_an_exposed_mlflow_admits_the_ingress_controller() -> None:
    exposed = merge(
        profile_values("default"),
        {"mlflow": {"ingress": {"enabled": True, "host": "mlflow.example.com"}}},
    )
    policy = one(render(exposed), "NetworkPolicy", "calhousing-mlflow")
    assert {"kubernetes.io/metadata.name": "ingress-nginx"} in [
        p.get("namespaceSelector", {}).get("matchLabels")
        for p in policy["spec"]["ingress"][0]["from"]
    ]
    closed = one(render_profile("default"), "NetworkPolicy", "calhousing-mlflow")
    assert not [p for p in closed["spec"]["ingress"][0]["from"] if "namespaceSelector" in p]
