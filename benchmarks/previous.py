"""The change against the previous run's latest.json, so a regression shows in the JSON and
the report: per target (value before, now, change) and per load cell (throughput and p99).

Only figures both runs measured are compared; the previous run's settings come along, since a
quick run against a full one, or another machine, explains a change as well as code does.
"""

import json
import math
from pathlib import Path
from typing import Any

CellKey = tuple[str, ...]


def load(path: Path) -> dict[str, Any] | None:
    """The previous report, or None if there is none or it cannot be read."""
    try:
        body: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body


def _change(before: float | None, now: float | None) -> dict[str, float | None]:
    pct = None
    if before and now is not None and math.isfinite(before) and math.isfinite(now):
        pct = round(100 * (now - before) / before, 1)
    return {"previous": before, "now": now, "change_pct": pct}


def _closed_key(row: dict[str, Any]) -> CellKey:
    return (row["contender"], row["protocol"], f"{row['clients']}c", f"{row['rows']}r")


def _open_key(row: dict[str, Any]) -> CellKey:
    return (row["contender"], row["protocol"], f"open{row['fraction']:g}")


def _cells(
    before: list[dict[str, Any]], now: list[dict[str, Any]], key: Any, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    old = {key(row): row for row in before}
    out = []
    for row in now:
        if (previous := old.get(key(row))) is not None:
            changes = {f: _change(previous.get(f), row.get(f)) for f in fields}
            out.append({"cell": "-".join(key(row)), **changes})
    return out


def _targets(before: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[dict[str, Any]]:
    old = {t["target"]: t for t in before}
    out = []
    for target in now:
        if (previous := old.get(target["target"])) is not None:
            change = _change(previous.get("value"), target.get("value"))
            out.append({"target": target["target"], "met_before": previous["met"], **change})
    return out


def compare(before: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The `previous` block of latest.json."""
    closed = ("throughput_rps", "p99_ms")
    steady = ("achieved_rps", "p99_ms", "p999_ms")
    return {
        "settings": before.get("settings"),
        "machine": before.get("machine"),
        "targets": _targets(before.get("targets", []), now["targets"]),
        "results": _cells(before.get("results", []), now["results"], _closed_key, closed),
        "open_loop": _cells(before.get("open_loop", []), now["open_loop"], _open_key, steady),
        "ready_s": {
            name: _change(before.get("ready_s", {}).get(name), seconds)
            for name, seconds in now["ready_s"].items()
        },
    }
