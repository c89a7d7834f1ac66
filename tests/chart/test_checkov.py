"""checkov on the rendered manifests of every profile and of the variants that change the
security surface: no failed check, and every skip is an annotation in the chart with a reason.

checkov runs in its own tool environment (its pins conflict with the project's lock):
`uv tool run --from checkov==3.3.30 checkov --skip-download` (the first run installs it)."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.manifests import PROFILES, is_custom, profile_values, render

CHECKOV = ["uv", "tool", "run", "--from", "checkov==3.3.30", "checkov", "--skip-download"]
VARIANTS: dict[str, dict[str, Any]] = {
    "auth": {"mlflow": {"auth": {"enabled": True, "existingSecret": "mlflow-admin"}}},
    "external-db": {
        "mlflow": {"backend": {"type": "external", "external": {"existingSecret": "db"}}}
    },
    "sqlite": {"mlflow": {"backend": {"type": "sqlite"}}},
    "pinned": {"image": {"digest": "sha256:" + "a" * 64, "pullPolicy": "Always"}},
    "mlflow-ingress": {"mlflow": {"ingress": {"enabled": True, "host": "mlflow.example.com"}}},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("uv") is None:
        pytest.fail("uv is needed to run checkov in its own tool environment")
    folder: Path = tmp_path_factory.mktemp("rendered")
    cases = {p: profile_values(p) for p in PROFILES} | VARIANTS
    for name, values in cases.items():
        docs = [d for d in render(values) if not is_custom(d)]  # checkov skips CRDs anyway
        (folder / f"{name}.yaml").write_text(yaml.safe_dump_all(docs))
    run = subprocess.run(
        [*CHECKOV, "-d", str(folder), "--framework", "kubernetes", "--compact", "-o", "json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if not run.stdout.strip().startswith(("{", "[")):
        pytest.fail(f"checkov gave no report (exit {run.returncode}):\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout)
    return result[0] if isinstance(result, list) else result  # type: ignore[no-any-return]


def test_checkov_finds_no_failed_check(report: dict[str, Any]) -> None:
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for f in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert report["summary"]["passed"] > 1000, report["summary"]


def test_every_checkov_skip_carries_a_reason(report: dict[str, Any]) -> None:
    skipped = report["results"]["skipped_checks"]
    unexplained = [
        f"{s['check_id']} {s['resource']}"
        for s in skipped
        if len(s["check_result"].get("suppress_comment") or "") < 20
    ]
    assert skipped and not unexplained, unexplained


def test_pinning_the_image_removes_its_skips(report: dict[str, Any]) -> None:
    image_checks = {"CKV_K8S_15", "CKV_K8S_43"}
    pinned = [
        s["check_id"]
        for s in report["results"]["skipped_checks"]
        if s["file_path"].endswith("pinned.yaml")
        and s["check_id"] in image_checks
        and "postgresql" not in s["resource"]
    ]
    assert not pinned
