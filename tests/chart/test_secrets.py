"""No secret in the repository or in what the chart renders (every credential comes from a
Secret reference), no Role that can read Secrets or reach into pods, and request bodies
limited at the ingress as on the server."""

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from core.settings import ServeSettings
from tests.chart.manifests import (
    PROFILES,
    REPO,
    Manifest,
    one,
    pod_templates,
    profile_values,
    render,
    render_profile,
)

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abpors]-[A-Za-z0-9-]{10,}\b"),
    "password in a URL": re.compile(r"://[^/\s:@$]+:(?!\$\()[^/\s@$]{6,}@"),
    "assigned secret": re.compile(
        r"(?i)\b(password|passwd|secret|token|api_key)\b\s*[:=]\s*[\"'][^\"'\s$({]{8,}[\"']"
    ),
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|_KEY$|^DATABASE_URL$")
AUTH = {"mlflow": {"auth": {"enabled": True, "existingSecret": "mlflow-admin"}}}
EXTERNAL_DB = {
    "mlflow": {"backend": {"type": "external", "external": {"existingSecret": "mlflow-db"}}}
}
VARIANTS = [*PROFILES, "auth", "external-db"]


def variant(name: str) -> list[Manifest]:
    extras: dict[str, dict[str, Any]] = {"auth": AUTH, "external-db": EXTERNAL_DB}
    extra = extras.get(name)
    return render(extra) if extra is not None else render(profile_values(name))


def tracked_text_files() -> Iterator[tuple[str, str]]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in filter(None, names):
        try:
            yield name, (REPO / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary, or deleted in the work tree


def find_secrets(text: str) -> list[str]:
    return [what for what, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def test_no_tracked_file_holds_a_secret() -> None:
    # This file is left out: its patterns' own test cases look like secrets by design.
    scanned = (item for item in tracked_text_files() if item[0] != "tests/chart/test_secrets.py")
    found = {name: hits for name, text in scanned if (hits := find_secrets(text))}
    assert found == {}


@pytest.mark.parametrize(
    "text",
    [
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "url: postgresql://mlflow:hunter2hunter2@db:5432/mlflow",
        'password = "correct-horse-battery"',
        "AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_the_scan_catches_a_planted_secret(text: str) -> None:
    assert find_secrets(text)


def env_vars(docs: list[Manifest]) -> Iterator[tuple[str, dict[str, Any]]]:
    for pod in pod_templates(docs):
        for container in pod.containers:
            for env in container.get("env", []):
                yield f"{pod.source}/{container['name']}", env


@pytest.mark.parametrize("name", VARIANTS)
def test_every_credential_in_the_rendered_chart_comes_from_a_secret(name: str) -> None:
    docs = variant(name)
    literal = [
        f"{where}: {env['name']}"
        for where, env in env_vars(docs)
        if SECRET_NAME.search(env["name"]) and "secretKeyRef" not in env.get("valueFrom", {})
    ]
    in_values = [
        f"{where}: {env['name']}"
        for where, env in env_vars(docs)
        if find_secrets(f"{env['name']} = {env.get('value', '')!r}")
    ]
    assert literal == [] and in_values == []


def _secret_init(docs: list[Manifest]) -> list[str]:
    job = one(docs, "Job", "calhousing-secret-init")
    args: list[str] = job["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_no_secret_is_rendered_so_a_render_without_a_cluster_rotates_nothing() -> None:
    """Argo CD renders without a cluster: a password made in a template would change at every
    sync. The chart renders no Secret; a hook Job creates the database's once."""
    docs = render({})
    assert not [d for d in docs if d["kind"] == "Secret"]
    args = _secret_init(docs)
    assert args[:3] == ["secret-init", "calhousing-postgresql", "--namespace=calhousing"]
    assert {"--key=password", "--key=predlog-password"} <= set(args)
    hook = one(docs, "Job", "calhousing-secret-init")["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"


@pytest.mark.parametrize(
    "values",
    [{"postgresql": {"existingSecret": "db-credentials"}}, EXTERNAL_DB],
    ids=["existing-secret", "external-db"],
)
def test_a_secret_of_the_users_own_means_no_secret_init_at_all(values: dict[str, Any]) -> None:
    docs = render(values)
    assert not [d for d in docs if "secret-init" in d["metadata"]["name"]]
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_an_existing_secret_is_what_every_database_client_reads() -> None:
    docs = render({"postgresql": {"existingSecret": "db-credentials"}, "drift": {"enabled": True}})
    refs = {
        (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
        for pod in pod_templates(docs)
        for c in [*pod.spec.get("initContainers", []), *pod.spec["containers"]]
        for ref in (e.get("valueFrom", {}) for e in c.get("env", []))
        if "secretKeyRef" in ref
    }
    assert refs == {("db-credentials", "password"), ("db-credentials", "predlog-password")}


def grants(role: Manifest) -> Iterator[tuple[str, str, str]]:
    for rule in role.get("rules", []):
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    yield group, resource, verb


FORBIDDEN = [
    ("", "secrets", {"get", "list", "watch", "*"}),
    ("", "pods/exec", {"create", "get", "*"}),
    ("", "pods/attach", {"create", "get", "*"}),
    ("", "pods/portforward", {"create", "get", "*"}),
    ("", "pods", {"create", "*"}),
    ("rbac.authorization.k8s.io", "*", {"create", "update", "patch", "bind", "escalate", "*"}),
]


def forbidden(group: str, resource: str, verb: str) -> bool:
    return any(
        group in (g, "*") and resource in (r, "*", r.split("/")[0] + "/*") and verb in verbs
        for g, r, verbs in FORBIDDEN
    )


@pytest.mark.parametrize("name", VARIANTS)
def test_no_role_can_read_secrets_or_exec_into_pods(name: str) -> None:
    roles = [d for d in variant(name) if d["kind"] in ("Role", "ClusterRole")]
    assert roles, "the retrain trigger's Role should render"
    found = {r["metadata"]["name"]: [g for g in grants(r) if forbidden(*g)] for r in roles}
    assert {role: bad for role, bad in found.items() if bad} == {}


def test_the_rbac_check_catches_a_role_that_reads_secrets() -> None:
    role = {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    exec_role = {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["create"]}]}
    assert [g for g in grants(role) if forbidden(*g)]
    assert [g for g in grants(exec_role) if forbidden(*g)]


def test_the_ingress_admits_exactly_the_bodies_the_server_admits() -> None:
    docs = render({})
    limit = ServeSettings().max_request_bytes
    assert limit == 8 * 1024 * 1024  # nginx reads "8m" as MiB
    for ingress in ("calhousing-rest", "calhousing-grpc"):
        annotations = one(docs, "Ingress", ingress)["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "8m"


def _secret_keys(template: Any) -> set[str]:
    containers = [*template.spec.get("initContainers", []), *template.spec["containers"]]
    return {
        env["valueFrom"]["secretKeyRef"]["key"]
        for container in containers
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
        and env["valueFrom"]["secretKeyRef"]["name"] == "calhousing-postgresql"
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_only_mlflow_and_the_database_hold_the_superuser_password(profile: str) -> None:
    keys = [
        (t.labels["app.kubernetes.io/component"], _secret_keys(t))
        for t in pod_templates(list(render_profile(profile)))
    ]

    holders = {component for component, held in keys if "password" in held}
    predlog = {component for component, held in keys if "predlog-password" in held}

    assert holders == {"mlflow", "postgresql"}
    assert (
        {"predictor", "mlflow", "training"}
        <= predlog
        <= {"predictor", "mlflow", "drift", "training"}
    )
