"""A run's report carries its change against the previous one, so a regression shows in
latest.json: per target and per load cell, only where both runs measured the figure."""

from pathlib import Path
from typing import Any

from benchmarks import previous


def _report(rps: float, p99: float, target: float, met: bool) -> dict[str, Any]:
    cell = {"contender": "ours", "protocol": "rest", "clients": 16, "rows": 1}
    return {
        "settings": {"quick": False},
        "results": [{**cell, "throughput_rps": rps, "p99_ms": p99}],
        "open_loop": [
            {"contender": "ours", "protocol": "grpc", "fraction": 0.5, "achieved_rps": rps / 2,
             "p99_ms": p99, "p999_ms": p99 * 2},
        ],
        "ready_s": {"ours": 4.0},
        "targets": [{"target": "REST p99 < 20 ms", "value": target, "met": met}],
    }  # fmt: skip


def test_a_slower_run_shows_the_drop_per_cell_and_per_target() -> None:
    block = previous.compare(_report(1000, 5, 5, True), _report(800, 10, 25, False))

    (cell,) = block["results"]
    assert cell["cell"] == "ours-rest-16c-1r"
    assert cell["throughput_rps"] == {"previous": 1000, "now": 800, "change_pct": -20.0}
    assert cell["p99_ms"]["change_pct"] == 100.0
    (steady,) = block["open_loop"]
    assert steady["cell"] == "ours-grpc-open0.5"
    (target,) = block["targets"]
    assert target == {
        "target": "REST p99 < 20 ms", "met_before": True, "previous": 5, "now": 25,
        "change_pct": 400.0,
    }  # fmt: skip
    assert block["settings"] == {"quick": False}


def test_figures_only_one_run_has_are_left_out() -> None:
    before = _report(1000, 5, 5, True)
    before["results"][0]["clients"] = 64
    before["targets"][0]["target"] = "another"
    del before["targets"][0]["value"]

    block = previous.compare(before, _report(800, 10, 25, False))

    assert block["results"] == []
    assert block["targets"] == []


def test_a_missing_or_unreadable_previous_report_is_none(tmp_path: Path) -> None:
    broken = tmp_path / "latest.json"
    broken.write_text("{not json")

    assert previous.load(tmp_path / "absent.json") is None
    assert previous.load(broken) is None
