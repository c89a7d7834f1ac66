"""The Grafana dashboards shipped in the chart: structure Grafana's provisioning accepts, one
datasource variable everywhere, unique panel ids, known units, and only variables and metric
names that exist (the queries themselves run against a real Prometheus in
tests/integration/test_observability.py)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from core import telemetry
from inference import metrics  # noqa: F401  (registers the serving metrics)

CHART_FILES = Path(__file__).resolve().parents[2] / "helm" / "calhousing" / "files"
DASHBOARDS = sorted((CHART_FILES / "dashboards").glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UNITS = {"reqps", "s", "percentunit", "short", "none", "dateTimeAsIso"}
BUILTINS = {"__rate_interval", "__range", "__interval"}
PANEL_TYPES = {"timeseries", "stat", "table", "heatmap", "barchart"}


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _known_metrics() -> set[str]:
    """Every name a query may use: the runtime's series, the batch jobs', the recordings."""
    serving = {m.name for m in REGISTRY.collect() if m.name.startswith("calhousing_")}
    serving |= {"calhousing_predicted_value", "calhousing_feature_bin"}
    serving |= {"calhousing_feature_reference_share"}
    suffixes = ("", "_bucket", "_sum", "_count", "_total")
    names = {name + suffix for name in serving for suffix in suffixes}
    names |= {v for k, v in vars(telemetry).items() if k.isupper() and str(v).startswith("calh")}
    rules = yaml.safe_load((CHART_FILES / "rules" / "calhousing.rules.yaml").read_text())
    return names | {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def test_the_three_dashboards_ship_with_unique_uids() -> None:
    assert [p.stem for p in DASHBOARDS] == ["data", "model", "serving"]
    uids = [_load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_a_dashboard_has_the_structure_grafana_provisions(path: Path) -> None:
    board = _load(path)
    assert {"uid", "title", "schemaVersion", "panels", "templating", "time"} <= set(board)
    assert board["schemaVersion"] >= 36
    assert "id" not in board or board["id"] is None  # a provisioned dashboard gets its own id
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "model", "version"):
        assert variables[name]["datasource"] == DATASOURCE, name


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_has_a_unique_id_a_unit_the_datasource_variable_and_a_place(
    path: Path,
) -> None:
    panels = _load(path)["panels"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids), ids
    for panel in panels:
        where = f"{path.stem}/{panel['title']}"
        assert panel["type"] in PANEL_TYPES, where
        assert panel["fieldConfig"]["defaults"]["unit"] in UNITS, where
        assert panel["datasource"] == DATASOURCE, where
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, where
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(set(ref_ids)) == len(ref_ids), where
        assert all(t["datasource"] == DATASOURCE and t["expr"].strip() for t in panel["targets"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_queries_use_only_defined_variables_and_known_metrics(path: Path) -> None:
    board = _load(path)
    defined = {v["name"] for v in board["templating"]["list"]} | BUILTINS
    known = _known_metrics()
    for panel in board["panels"]:
        texts = [t["expr"] for t in panel["targets"]] + [panel["title"]]
        used = {v for text in texts for v in re.findall(r"\$(\w+)", text)}
        assert used <= defined, f"{panel['title']}: {used - defined}"
        for expr in texts[:-1]:
            names = set(re.findall(r"\b(calhousing[_:][a-zA-Z0-9_:]+)", expr))
            assert names <= known, f"{panel['title']}: unknown {names - known}"


def test_the_metric_check_knows_a_typo_when_it_sees_one() -> None:
    assert "calhousing_requests_total" in _known_metrics()
    assert "calhousing_request_total" not in _known_metrics()
