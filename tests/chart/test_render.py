"""The chart renders for every profile, `helm lint` is clean, and every object is valid for the
Kubernetes versions we support: core kinds by kubernetes-validate (strict: unknown fields
fail), custom resources by the official CRD schemas in ../shared/crds (made strict too)."""

import os
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.manifests import (
    CHART,
    PROFILES,
    REPO,
    Manifest,
    is_custom,
    profile_values,
    render_profile,
)

KUBERNETES_VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0")
CRDS = Path(os.environ.get("CALHOUSING_CRDS", REPO.parent / "shared" / "crds"))


@pytest.mark.parametrize("profile", PROFILES)
def test_helm_lint_is_clean(profile: str) -> None:
    report = helm_python.lint(CHART, profile_values(profile), strict=True, namespace="calhousing")
    findings = [m for m in report["messages"] if m["severity"] >= 2]
    assert not findings and not report["errors"], findings or report["errors"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("profile", PROFILES)
def test_core_objects_match_the_kubernetes_schema(profile: str, version: str) -> None:
    for doc in render_profile(profile):
        if not is_custom(doc):
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                where = "/".join(map(str, err.absolute_path))
                pytest.fail(
                    f"{doc['kind']}/{doc['metadata']['name']} on {version}: {where}: {err.message}"
                )


def _strict(schema: Any) -> Any:
    """The API server prunes unknown fields silently; for a test, an unknown field is a typo."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> a validator of the served version's openAPIV3Schema."""
    validators = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = _strict(version["schema"]["openAPIV3Schema"])
                schema["properties"]["metadata"] = {"type": "object"}
                validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(
                    schema
                )
    return validators


@pytest.mark.parametrize("profile", PROFILES)
def test_custom_resources_match_the_official_crds(profile: str) -> None:
    if not CRDS.is_dir():
        pytest.skip(f"{CRDS} is absent: the official CRDs live beside the repository (shared/crds)")
    custom = [doc for doc in render_profile(profile) if is_custom(doc)]
    for doc in custom:
        validator = crd_validators().get((doc["apiVersion"], doc["kind"]))
        assert validator, f"no served CRD version for {doc['apiVersion']} {doc['kind']} in {CRDS}"
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_the_kserve_profile_renders_custom_resources() -> None:
    """Guards the test above against passing on nothing."""
    assert {d["kind"] for d in render_profile("kind-kserve") if is_custom(d)} == {
        "InferenceService",
        "ServingRuntime",
        "ServiceMonitor",
        "PrometheusRule",
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
    }


def test_the_strict_crd_check_catches_a_misspelt_field() -> None:
    isvc: Manifest = next(
        d for d in render_profile("kind-kserve") if d["kind"] == "InferenceService"
    )
    typo = {**isvc, "spec": {"predictor": {**isvc["spec"]["predictor"], "minReplica": 1}}}
    validator = crd_validators()[(isvc["apiVersion"], "InferenceService")]
    assert any("minReplica" in e.message for e in validator.iter_errors(typo))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_object_is_namespaced_to_the_release(profile: str) -> None:
    for doc in render_profile(profile):
        assert doc["metadata"].get("namespace") == "calhousing", (
            f"{doc['kind']}/{doc['metadata']['name']}"
        )


@pytest.mark.parametrize("profile", PROFILES)
def test_every_object_has_the_standard_labels(profile: str) -> None:
    required = {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    }
    for doc in render_profile(profile):
        missing = required - set(doc["metadata"].get("labels", {}))
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"
