"""One load cell: a load generator process against one server, with the server's CPU and RSS
sampled while it runs.

REST goes through wrk (C, one thread, keep-alive connections: the client costs little of the
2 cores), gRPC through benchmarks.grpc_load (Python, grpc.aio). The request bodies are written
once per batch size: the V2 column layout (the stock runtime's only one, with its pandas
content type) for both MLServer contenders, per-row records for the FastAPI baseline.
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.features import FEATURE_NAMES
from inference.client import v2_inputs

WRK_SCRIPT = Path(__file__).with_name("wrk_summary.lua")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Cell:
    contender: str
    protocol: str
    clients: int
    rows: int


@dataclass(frozen=True)
class Result:
    cell: Cell
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cpu_percent: float
    """Server CPU during the run, % of one core."""
    rss_mb: float
    """Server peak resident memory during the run."""
    samples: int = 1
    """How many runs of the cell this is the median of (`median`)."""

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        c = self.cell
        return (
            f"{c.contender}-{c.protocol:5} {c.clients:3} clients {c.rows:5} rows: "
            f"{self.throughput:7.0f} req/s, p99 {self.p99_ms:8.2f} ms, {self.errors} errors"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **vars(self.cell),
            **{k: v for k, v in vars(self).items() if k != "cell"},
            "throughput_rps": self.throughput,
            "rows_per_s": self.throughput * self.cell.rows,
        }


def median(runs: list[Result]) -> Result:
    """One result for repeated runs of a cell: the run of median throughput, with each
    latency percentile and the CPU the median over all runs and the peak RSS the highest. A
    single 5 s sample of a 2-core machine can be a busy second; the median of a few, taken in
    rotation with the other contenders, is what a ratio between them should rest on."""
    ordered = sorted(runs, key=lambda r: r.throughput)
    middle = ordered[(len(ordered) - 1) // 2]
    return replace(
        middle,
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p95_ms=statistics.median(r.p95_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        cpu_percent=statistics.median(r.cpu_percent for r in runs),
        rss_mb=max(r.rss_mb for r in runs),
        samples=len(runs),
    )


def write_bodies(matrix: npt.NDArray[np.float64], sizes: list[int], folder: Path) -> None:
    """`v2-<n>.json` and `records-<n>.json` for each batch size, plus the rows for gRPC."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "rows.npy", matrix)
    for n in sizes:
        rows = matrix[:n]
        v2 = {"inputs": v2_inputs(rows, "columns"), "parameters": {"content_type": "pd"}}
        records = {"rows": [dict(zip(FEATURE_NAMES, map(float, r), strict=True)) for r in rows]}
        (folder / f"v2-{n}.json").write_text(json.dumps(v2))
        (folder / f"records-{n}.json").write_text(json.dumps(records))


def _tree(pid: int) -> list[int]:
    """The process and its children (MLServer with parallel workers would have some)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return [pid, *(p for kid in kids for p in _tree(int(kid)))]


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pids: list[int]) -> int:
    return sum(int(Path(f"/proc/{p}/statm").read_text().split()[1]) for p in pids) * PAGE


class Sampler:
    """Samples a process tree's RSS in a thread while the load runs; CPU is the difference of
    its CPU time over the wall time of the block."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self._pid, self._interval = pid, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_rss, self.cpu_percent = 0, 0.0

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_rss = max(self.peak_rss, _rss_bytes(_tree(self._pid)))

    def __enter__(self) -> "Sampler":
        self._cpu0, self._t0 = _cpu_s(_tree(self._pid)), time.perf_counter()
        self.peak_rss = _rss_bytes(_tree(self._pid))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        busy = _cpu_s(_tree(self._pid)) - self._cpu0
        self.cpu_percent = 100 * busy / (time.perf_counter() - self._t0)


def settle(pid: int, timeout_s: float = 60.0, window_s: float = 0.2) -> float:
    """Wait until the server `pid` is idle (under 10% of a core over `window_s`); return the
    seconds waited. A closed-loop generator stops with requests still queued in the server,
    which works through them afterwards: on the one server CPU that would load the next cell,
    whoever's it is (64 requests of 1,000 rows are seconds of work)."""
    start = time.perf_counter()
    busy = _cpu_s(_tree(pid))
    while time.perf_counter() - start < timeout_s:
        time.sleep(window_s)
        now = _cpu_s(_tree(pid))
        if now - busy < 0.1 * window_s:
            break
        busy = now
    return time.perf_counter() - start


def run_generator(
    pid: int, argv: list[str], cpus: str | None, timeout_s: float
) -> tuple[dict[str, Any], Sampler]:
    """Run the load generator `argv` (pinned to `cpus`) against the server `pid`; its JSON
    summary (the last line starting with `{`) and the server's CPU and memory meanwhile. Returns
    once the server is idle again (`settle`)."""
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    with Sampler(pid) as sampler:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    settle(pid)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"load generator {argv} failed: {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary, sampler


def run_cell(cell: Cell, pid: int, argv: list[str], cpus: str | None, timeout_s: float) -> Result:
    """One closed-loop cell."""
    summary, sampler = run_generator(pid, argv, cpus, timeout_s)
    return Result(
        cell,
        summary["requests"],
        summary["errors"],
        summary["seconds"],
        summary["p50_ms"],
        summary["p95_ms"],
        summary["p99_ms"],
        sampler.cpu_percent,
        sampler.peak_rss / 2**20,
    )


def wrk_argv(url: str, body: Path, cell: Cell, seconds: float) -> list[str]:
    return [
        "wrk", "-t1", f"-c{cell.clients}", f"-d{seconds:g}s", "--timeout", "30s",
        "-s", str(WRK_SCRIPT), url, "--", str(body),
    ]  # fmt: skip


def grpc_argv(target: str, model: str, cell: Cell, seconds: float, rows: Path) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.grpc_load", target, model, str(cell.rows),
        str(cell.clients), f"{seconds:g}", str(rows),
    ]  # fmt: skip
