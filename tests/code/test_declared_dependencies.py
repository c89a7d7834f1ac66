"""Every third-party package the shipped code imports is declared in pyproject's dependencies:
one that arrives only as another package's dependency can vanish in any lock update."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SHIPPED = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    names = (re.match(r"[A-Za-z0-9_.-]+", spec) for spec in PYPROJECT["project"]["dependencies"])
    return {_normalized(match[0]) for match in names if match}


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for package in SHIPPED:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - set(SHIPPED)


def test_every_imported_third_party_package_is_declared() -> None:
    owners = packages_distributions()
    imported = {
        module: {_normalized(dist) for dist in owners.get(module, [module])}
        for module in _imported_top_levels()
    }

    undeclared = {module for module, dists in imported.items() if not dists & _declared()}

    assert undeclared == set()
