"""The wheel's package list (pyproject's hatch target) is the one list of the project's Python
packages: every other place that names them must name the same ones, or a new package would
be type-checked but not shipped, or shipped but missing from the image."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SHIPPED = set(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
DEV_TOOLS = {"benchmarks", "reliability"}


def test_mypy_checks_every_shipped_package_and_the_dev_tools() -> None:
    assert set(PYPROJECT["tool"]["mypy"]["packages"]) == SHIPPED | DEV_TOOLS | {"tests"}


def test_import_contracts_see_every_package() -> None:
    assert set(PYPROJECT["tool"]["importlinter"]["root_packages"]) == SHIPPED | DEV_TOOLS


def test_the_image_copies_exactly_the_shipped_packages() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert copied == SHIPPED


def test_the_build_context_lets_in_exactly_the_shipped_packages() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:-1] for line in lines if line.startswith("!") and line.endswith("/")}
    assert allowed == SHIPPED


def test_the_e2e_workflow_runs_on_a_change_to_any_shipped_package() -> None:
    workflow = yaml.safe_load((REPO / ".github/workflows/e2e-kind.yml").read_text())
    # PyYAML reads the bare `on:` key as True (YAML 1.1).
    paths = set(workflow[True]["pull_request"]["paths"])
    assert {f"{name}/**" for name in SHIPPED} <= paths
