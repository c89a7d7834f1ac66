"""The chart's rule file under Prometheus' own tool: it loads (`promtool check rules`), every
alert fires on its series and stays quiet on a healthy twin (`promtool test rules`), and no
alert or recording rule is left without such a test."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "helm" / "calhousing" / "files" / "rules" / "calhousing.rules.yaml"
RULE_TESTS = sorted((REPO / "monitoring" / "rules-tests").glob("*.yaml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `apt-get install prometheus` (see README)")
    return path


def _run(*argv: str, cwd: Path = REPO) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_loads_the_rule_file(promtool: str) -> None:
    assert f"SUCCESS: {len(_rules())} rules found" in _run(promtool, "check", "rules", str(RULES))


def test_promtool_unit_tests_pass(promtool: str) -> None:
    for path in RULE_TESTS:
        assert "SUCCESS" in _run(promtool, "test", "rules", path.name, cwd=path.parent)


def _tested() -> tuple[set[str], set[str]]:
    fired, recorded = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {
                t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")
            }
            recorded |= {t["expr"] for t in case.get("promql_expr_test", [])}
    return fired, recorded


def test_every_alert_has_a_test_that_makes_it_fire() -> None:
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert alerts - _tested()[0] == set()


def test_every_recording_rule_feeds_a_tested_alert_or_expression() -> None:
    """A recording rule is covered when an expression test reads it, or a tested alert does."""
    fired, expressions = _tested()
    readers = " ".join(expressions) + " ".join(
        rule["expr"] for rule in _rules() if rule.get("alert") in fired
    )
    untested = {r["record"] for r in _rules() if "record" in r and r["record"] not in readers}
    assert untested == set()
