"""The chart rendered by Helm's own engine (helm-python-sdk, Helm v4 in a wheel), as Python
objects, plus the views the checks share: pod templates (the InferenceService predictor
included, merged with its ServingRuntime as KServe does) and containers."""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "calhousing"
RELEASE, NAMESPACE = "calhousing", "calhousing"
PROFILES = (
    "default",
    *sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml")),
)
CUSTOM_GROUPS = ("serving.kserve.io", "monitoring.coreos.com", "gateway.networking.k8s.io")

Manifest = dict[str, Any]


def profile_values(profile: str) -> dict[str, Any]:
    if profile == "default":
        return {}
    return helm_python.values_from_yaml((CHART / "ci" / f"{profile}-values.yaml").read_text())


def render_files(
    values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE
) -> dict[str, str]:
    with helm_python.Chart.load(CHART) as chart:
        return chart.render(values, name=release, namespace=namespace, is_install=True)


def render(
    values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE
) -> list[Manifest]:
    """Every object the release would apply, hooks and tests included (NOTES.txt is not one)."""
    docs: list[Manifest] = []
    for path, text in sorted(render_files(values, release, namespace).items()):
        if path.endswith(".yaml"):
            docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


@cache
def render_profile(profile: str) -> tuple[Manifest, ...]:
    return tuple(render(profile_values(profile)))


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge values as `helm -f base -f extra` would."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def one(
    docs: tuple[Manifest, ...] | list[Manifest], kind: str, name: str | None = None
) -> Manifest:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    )
    return found[0]


def kinds(docs: tuple[Manifest, ...] | list[Manifest]) -> set[str]:
    return {d["kind"] for d in docs}


def is_custom(doc: Manifest) -> bool:
    return str(doc["apiVersion"]).split("/")[0] in CUSTOM_GROUPS


@dataclass(frozen=True)
class PodTemplate:
    """A pod as the cluster would create it: where it comes from, its labels and spec."""

    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]

    @property
    def containers(self) -> list[dict[str, Any]]:
        return [*self.spec.get("initContainers", []), *self.spec["containers"]]


def _predictor_pod(isvc: Manifest, docs: tuple[Manifest, ...] | list[Manifest]) -> PodTemplate:
    """KServe's merge: the runtime's container under the InferenceService's model fields."""
    predictor = dict(isvc["spec"]["predictor"])
    model = predictor.pop("model")
    runtime = one(docs, "ServingRuntime", model["runtime"])
    container = {**runtime["spec"]["containers"][0]}
    container.update(
        {k: v for k, v in model.items() if k not in ("runtime", "modelFormat", "protocolVersion")}
    )
    labels, annotations = predictor.pop("labels", {}), predictor.pop("annotations", {})
    for key in ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "deploymentStrategy"):
        predictor.pop(key, None)
    return PodTemplate(
        f"InferenceService/{isvc['metadata']['name']}",
        labels,
        annotations,
        {**predictor, "containers": [container]},
    )


def pod_templates(docs: tuple[Manifest, ...] | list[Manifest]) -> Iterator[PodTemplate]:
    for doc in docs:
        kind, spec = doc["kind"], doc.get("spec", {})
        source = f"{kind}/{doc['metadata']['name']}"
        template = None
        if kind in ("Deployment", "StatefulSet", "Job"):
            template = spec["template"]
        elif kind == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            template = doc
        elif kind == "InferenceService":
            yield _predictor_pod(doc, docs)
        if template is not None:
            meta = template.get("metadata", {})
            yield PodTemplate(
                source, meta.get("labels", {}), meta.get("annotations", {}), template["spec"]
            )
