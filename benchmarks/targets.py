"""The issue's targets, judged on one run's figures: each with its measured value, so the next
run can say how far it moved (benchmarks/previous.py).

The ratios against MLServer's floor and the peers are measured in the same run, in
alternation, so a busy minute of the machine weighs on both sides of a ratio alike.
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.load_cell import Result
from benchmarks.open_loop import OpenResult

if TYPE_CHECKING:
    from benchmarks.publish import Run

LABEL = {"rest": "REST", "grpc": "gRPC"}


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    template: str
    """How `value` is printed, e.g. "{:.2f}x"."""
    met: bool

    @property
    def measured(self) -> str:
        return self.template.format(self.value)


def find(run: "Run", contender: str, protocol: str, clients: int, rows: int) -> Result | None:
    key = (contender, protocol, clients, rows)
    return next(
        (
            r
            for r in run.results
            if (r.cell.contender, r.cell.protocol, r.cell.clients, r.cell.rows) == key
        ),
        None,
    )


def _open(run: "Run", contender: str, protocol: str, fraction: float) -> OpenResult | None:
    key = (contender, protocol, fraction)
    return next((o for o in run.open_loop if (o.contender, o.protocol, o.fraction) == key), None)


def _ratio(top: float, bottom: float) -> float:
    return top / bottom if bottom else math.inf


def _versus_stock(run: "Run") -> list[Target]:
    out = []
    rest, stock = find(run, "ours", "rest", 16, 1), find(run, "stock", "rest", 16, 1)
    grpc = find(run, "ours", "grpc", 16, 1)
    if rest and stock:
        ratio = _ratio(rest.throughput, stock.throughput)
        out.append(
            Target("REST >= 3x stock throughput (16 clients, 1 row)", ratio, "{:.2f}x", ratio >= 3)
        )
    if rest and grpc:
        ratio = _ratio(grpc.throughput, rest.throughput)
        out.append(
            Target("gRPC >= REST throughput (16 clients, 1 row)", ratio, "{:.2f}x", ratio >= 1)
        )
    return out


def _versus_floor(run: "Run") -> list[Target]:
    out = []
    for protocol in ("rest", "grpc"):
        ours, floor = find(run, "ours", protocol, 16, 1), find(run, "floor", protocol, 16, 1)
        if ours and floor:
            ratio = _ratio(ours.throughput, floor.throughput)
            name = f"{LABEL[protocol]} throughput >= 70% of MLServer's floor (16 clients, 1 row)"
            out.append(Target(name, ratio, "{:.0%}", ratio >= 0.7))
    if "ours" in run.ready_s and "floor" in run.ready_s:
        ratio = _ratio(run.ready_s["ours"], run.ready_s["floor"])
        out.append(Target("Start to ready <= 1.5x the floor's", ratio, "{:.2f}x", ratio <= 1.5))
    return out


def _tails(run: "Run") -> list[Target]:
    out = []
    for protocol in ("rest", "grpc"):
        closed = find(run, "ours", protocol, 16, 1)
        if closed:
            name = f"{LABEL[protocol]} p99 < 20 ms (16 clients, 1 row)"
            out.append(Target(name, closed.p99_ms, "{:.1f} ms", closed.p99_ms < 20))
        steady = _open(run, "ours", protocol, 0.5)
        if steady:
            name = f"{LABEL[protocol]} open loop p99 < 10 ms (50% of our saturation, 1 row)"
            met = steady.p99_ms < 10 and steady.errors == 0
            out.append(Target(name, steady.p99_ms, "{:.1f} ms", met))
    return out


def _costs(run: "Run") -> list[Target]:
    out = []
    big = find(run, "ours", "rest", 1, 1000)
    if big and 1000 in run.served_s:
        ratio = big.p50_ms / 1000 / run.served_s[1000]
        name = "1,000 rows: server p50 <= 2x model predict (1 client)"
        out.append(Target(name, ratio, "{:.2f}x", ratio <= 2))
    if "ours" in run.ready_s:
        ready = run.ready_s["ours"]
        out.append(Target("Ready within 10 s of start", ready, "{:.1f} s", ready < 10))
    rss = [r.rss_mb for r in run.results if r.cell.contender == "ours"]
    if rss:
        out.append(Target("Predictor RSS < 400 MB (peak)", max(rss), "{:.0f} MB", max(rss) < 400))
    if run.drift_s and 1_000_000 in run.drift_s:
        seconds = run.drift_s[1_000_000]
        out.append(Target("Drift check on 1M x 8 < 5 s", seconds, "{:.2f} s", seconds < 5))
    return out


def targets(run: "Run") -> list[Target]:
    """Each of the issue's targets this run could judge."""
    return [*_versus_stock(run), *_versus_floor(run), *_tails(run), *_costs(run)]
