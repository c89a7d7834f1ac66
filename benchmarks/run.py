"""Run the suite: start every contender on the same model version, drive each with the same
closed-loop loads in alternation (so a slow minute of the machine hurts all of them alike),
then each at steady open-loop rates (fractions of its own saturation), measure the ceilings
and the other costs, and write the report. The Go load generator and the kserve peer's
environment are built into `--cache` first, untimed.

`python -m benchmarks [--quick] [--pipeline] [--only ours-rest,...]`; `make bench` runs it.
"""

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from benchmarks import contenders, load_cell, open_loop, probes, publish, toolchain
from benchmarks.contenders import Server
from core.errors import CalhousingError
from core.settings import Settings, load_settings

CONTENDERS = (
    "ours-rest", "ours-grpc", "floor-rest", "floor-grpc", "kserve-rest", "kserve-grpc",
    "stock-rest", "fastapi-rest",
)  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 16 clients, 1 row, 2 s; open loop at 50%% only",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load cell")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of the 16-client 1-row cell, and starts of ours and the floor (medians kept)",
    )
    parser.add_argument("--only", default=",".join(CONTENDERS), help="contenders, comma-separated")
    parser.add_argument("--pipeline", action="store_true", help="also time a forced `dvc repro`")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache", type=Path, default=toolchain.DEFAULT_CACHE, help="tools' home")
    return parser.parse_args(argv)


def production_version(settings: Settings) -> str:
    from mlflow import MlflowClient

    from inference.mlflow_load import resolve

    tracking = settings.mlflow.tracking_uri
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    return resolve(client, settings.registry.model_uri).version


def _cpu_split() -> tuple[str | None, str | None]:
    """Servers on the last CPU, load generators on the others: neither steals from the other,
    and every server gets the same single core (a pod's `cpu: 1`)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return str(cpus[-1]), ",".join(map(str, cpus[:-1]))


SERVER_CPUS, CLIENT_CPUS = _cpu_split()
Grid = tuple[list[int], list[int]]


def _argv(server: Server, cell: load_cell.Cell, seconds: float, bodies: Path) -> list[str]:
    if cell.protocol == "grpc":
        assert server.grpc_target is not None
        rows = bodies / "rows.npy"
        return load_cell.grpc_argv(server.grpc_target, server.model, cell, seconds, rows)
    kind = "records" if server.name == "fastapi" else "v2"
    return load_cell.wrk_argv(server.infer_url, bodies / f"{kind}-{cell.rows}.json", cell, seconds)


def _cell(name: str, clients: int, rows: int) -> load_cell.Cell:
    contender, protocol = name.split("-")
    return load_cell.Cell(contender, protocol, clients, rows)


def _measure(server: Server, cell: load_cell.Cell, seconds: float, work: Path) -> load_cell.Result:
    assert server.proc is not None
    argv = _argv(server, cell, seconds, work / "bodies")
    return load_cell.run_cell(cell, server.proc.pid, argv, CLIENT_CPUS, seconds + 120)


READY_PAIR = ("ours", "floor")
"""Started `--repeats` times each, alternating, for the start-to-ready ratio (median kept)."""
TARGET_CELL = (16, 1)
"""(clients, rows) of the cell the targets and the open loop's saturation are judged on."""


def _turn(
    servers: dict[str, Server], order: list[str], size: tuple[int, int], seconds: float, work: Path
) -> list[load_cell.Result]:
    """One (clients, rows) cell for each contender in `order`."""
    clients, rows = size
    # 64 requests of 1,000 rows take ~2 s to go round once: longer, or too few finish.
    longer = 2 if clients * rows >= 16_000 else 1
    out = []
    for name in order:
        cell = _cell(name, clients, rows)
        out.append(_measure(servers[cell.contender], cell, seconds * longer, work))
        print(f"  {out[-1].line()}", flush=True)
    return out


def drive(
    servers: dict[str, Server],
    chosen: list[str],
    grid: Grid,
    args: argparse.Namespace,
    work: Path,
) -> list[load_cell.Result]:
    """Every (clients, rows) cell for every contender, rotating the order from cell to cell;
    the targets' cell `args.repeats` times, each contender's median kept."""
    for name in chosen:  # warm-up: connections, first-request code paths, caches
        cell = _cell(name, 4, 1)
        _measure(servers[cell.contender], cell, 1.0, work)
    results, turn = [], 0
    for size in product(*grid):
        runs: list[load_cell.Result] = []
        for _ in range(args.repeats if size == TARGET_CELL else 1):
            shift = turn % len(chosen)
            runs += _turn(servers, chosen[shift:] + chosen[:shift], size, args.seconds, work)
            turn += 1
        for name in chosen:
            mine = [r for r in runs if r.cell == _cell(name, *size)]
            results.append(load_cell.median(mine))
    return results


Ceilings = tuple[dict[int, float], dict[int, float]]


@dataclass
class Measured:
    closed: list[load_cell.Result]
    steady: list[open_loop.OpenResult]
    ceilings: Ceilings
    ready: dict[str, float]


def _servers(
    settings: Settings,
    files: contenders.ModelFiles,
    wanted: set[str],
    args: argparse.Namespace,
    work: Path,
) -> list[Server]:
    """The chosen contenders, in start order; kserve's environment is synced first, untimed."""
    every: dict[str, Callable[[], Server]] = {
        "ours": lambda: contenders.ours(files, settings, work),
        "floor": lambda: contenders.floor(files, work),
        "kserve": lambda: contenders.kserve(files, toolchain.kserve_python(args.cache)),
        "stock": lambda: contenders.stock(files, work),
        "fastapi": lambda: contenders.fastapi(files),
    }
    return [make() for name, make in every.items() if name in wanted]


def serve_and_drive(
    settings: Settings, version: str, args: argparse.Namespace, work: Path
) -> Measured:
    """Materialise the model, measure its ceilings, start the contenders and load them."""
    chosen = [c for c in args.only.split(",") if c]
    grid: Grid = ([16], [1]) if args.quick else ([1, 16, 64], [1, 100, 1000])
    files = contenders.materialise(settings, version, work / "model")
    matrix = probes.holdout_rows(settings.data.prepared_dir)
    load_cell.write_bodies(matrix, sorted({*grid[1], 1000}), work / "bodies")
    open_loop.write_grpc_body(files.name, matrix, work / "bodies")
    plan = open_loop.Plan(
        toolchain.openloop_binary(args.cache), work / "bodies", args.seconds, CLIENT_CPUS
    )
    ceilings = probes.ceilings(files.joblib_path, matrix, [1, 100, 1000], SERVER_CPUS)
    servers = _servers(settings, files, {name.split("-")[0] for name in chosen}, args, work)
    fractions = open_loop.QUICK_FRACTIONS if args.quick else open_loop.FRACTIONS
    paired = [s for s in servers if s.name in READY_PAIR]  # the start target's two sides
    ready = contenders.start_times(paired, SERVER_CPUS, work / "logs", args.repeats)
    with contenders.started(servers, SERVER_CPUS, work / "logs") as running:
        by_name = {s.name: s for s in running}
        closed = drive(by_name, chosen, grid, args, work)
        steady = open_loop.drive(plan, by_name, chosen, closed, fractions)
    return Measured(closed, steady, ceilings, {s.name: s.ready_s for s in servers} | ready)


def preflight(settings: Settings) -> None:
    """Fail early, saying what to do, rather than minutes in."""
    if shutil.which("wrk") is None:
        raise CalhousingError("wrk is not installed: `apt-get install -y wrk` (Debian)")
    if shutil.which("go") is None:
        raise CalhousingError("go is not on PATH: the open-loop generator is built with Go >= 1.26")
    holdout = settings.data.prepared_dir / "holdout.parquet"
    if not holdout.exists():
        raise CalhousingError(
            f"{holdout} is missing: the suite benchmarks the registered production model on "
            "the prepared holdout; run `make demo DATA=...` (or `make bench DATA=...`) first"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.quick:
        args.seconds, args.repeats = 2.0, 1
    settings = load_settings(args.params)
    preflight(settings)
    machine = probes.machine()
    version = production_version(settings)
    print(f"Benchmarking {settings.registry.model_uri} = version {version}", flush=True)
    with tempfile.TemporaryDirectory(prefix="calhousing-bench-") as tmp:
        measured = serve_and_drive(settings, version, args, Path(tmp))
    prepared = settings.data.prepared_dir
    with probes.pinned(SERVER_CPUS):
        drift = probes.drift_times(
            probes.holdout_rows(prepared),
            prepared / "reference_profile.json",
            [10_000] if args.quick else [10_000, 100_000, 1_000_000],
        )
    pipeline = probes.pipeline_seconds(Path.cwd()) if args.pipeline else None
    run = publish.Run(
        machine=machine,
        settings={
            "model_version": version,
            "seconds_per_cell": args.seconds,
            "repeats_of_target_cell": args.repeats,
            "server_cpus": SERVER_CPUS,
            "client_cpus": CLIENT_CPUS,
            "quick": args.quick,
        },
        results=measured.closed,
        open_loop=measured.steady,
        ceilings_s=measured.ceilings[0],
        served_s=measured.ceilings[1],
        ready_s=measured.ready,
        drift_s=drift,
        pipeline_s=pipeline,
        load_after=os.getloadavg()[0],
    )
    print(f"Wrote {publish.write(run, args.out)} (+ latest.json, latest.png)")
