"""Latency at a steady load: each contender at fixed fractions of its own saturation
throughput (the closed-loop 16-client, 1-row cell), driven by benchmarks/openloop (Go).

Closed-loop clients wait for each answer before sending again, so a server that stalls also
slows its load down and the stall hides in few samples (coordinated omission). Here requests
leave at fixed intervals whatever the answers, and latency counts from the due time; the
generator also reports the rate it actually sent at and how late its sends were, so a
generator that could not keep the schedule shows rather than passing for a fast server.
"""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.contenders import Server
from benchmarks.load_cell import Cell, Result, run_generator
from inference.client import grpc_request

FRACTIONS = (0.25, 0.5, 0.75)
QUICK_FRACTIONS = (0.5,)
REST_CONNECTIONS = 64
"""The pool the generator may open: enough that it never queues requests a server could take."""
GRPC_CHANNELS = 4
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OpenResult:
    contender: str
    protocol: str
    fraction: float
    """Of the contender's saturation throughput."""
    asked_rps: float
    sent_rps: float
    achieved_rps: float
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    lag_p99_ms: float
    """How late the generator sent (99th percentile): the schedule's own precision."""
    lag_max_ms: float
    cpu_percent: float

    def line(self) -> str:
        return (
            f"{self.contender}-{self.protocol:5} open loop {self.fraction:4.0%} "
            f"asked {self.asked_rps:6.0f} sent {self.sent_rps:6.0f} req/s: p50 {self.p50_ms:6.2f}"
            f" p99 {self.p99_ms:7.2f} p99.9 {self.p999_ms:7.2f} ms, {self.errors} errors"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def saturation(results: list[Result], contender: str, protocol: str) -> float | None:
    """Requests per second of the closed-loop 16-client, 1-row cell, if it ran."""
    cell = Cell(contender, protocol, 16, 1)
    return next((r.throughput for r in results if r.cell == cell and r.throughput > 0), None)


@dataclass(frozen=True)
class Plan:
    """What every open-loop cell of a run shares."""

    binary: Path
    bodies: Path
    seconds: float
    cpus: str | None
    """The load generators' CPUs."""


def argv(plan: Plan, server: Server, protocol: str, rate: float) -> list[str]:
    if protocol == "grpc":
        assert server.grpc_target is not None
        target, body, pool = server.grpc_target, plan.bodies / "grpc-1.bin", GRPC_CHANNELS
    else:
        kind = "records" if server.name == "fastapi" else "v2"
        target, body, pool = server.infer_url, plan.bodies / f"{kind}-1.json", REST_CONNECTIONS
    return [
        str(plan.binary), "-mode", protocol, "-target", target, "-body", str(body),
        "-rate", f"{rate:.1f}", "-seconds", f"{plan.seconds:g}", "-conns", str(pool),
    ]  # fmt: skip


def measure(plan: Plan, server: Server, protocol: str, fraction: float, rate: float) -> OpenResult:
    """One open-loop cell: `rate` requests/s for the plan's seconds, server CPU sampled."""
    assert server.proc is not None
    command = argv(plan, server, protocol, rate)
    summary, sampler = run_generator(server.proc.pid, command, plan.cpus, plan.seconds + 60)
    return OpenResult(server.name, protocol, fraction, cpu_percent=sampler.cpu_percent, **summary)


def drive(
    plan: Plan,
    servers: dict[str, Server],
    chosen: list[str],
    closed: list[Result],
    fractions: tuple[float, ...],
) -> list[OpenResult]:
    """Each chosen contender at each fraction of its saturation, rotating the order."""
    out = []
    for turn, fraction in enumerate(fractions):
        shift = turn % len(chosen)
        for name in chosen[shift:] + chosen[:shift]:
            contender, protocol = name.split("-")
            peak = saturation(closed, contender, protocol)
            if peak is not None:
                out.append(measure(plan, servers[contender], protocol, fraction, peak * fraction))
                print(f"  {out[-1].line()}", flush=True)
    return out


def write_grpc_body(model: str, matrix: Matrix, bodies: Path) -> None:
    """The serialised one-row ModelInferRequest the generator sends as it is."""
    request = grpc_request(model, matrix[:1], "columns")
    (bodies / "grpc-1.bin").write_bytes(request.SerializeToString())
