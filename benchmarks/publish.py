"""The suite's output: `latest.json` (every figure), `latest.md` (tables and the targets' verdicts)
and `latest.png` (throughput and p99 per contender, load and batch size)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.load_cell import Result
from inference import booster


@dataclass(frozen=True)
class Run:
    machine: dict[str, Any]
    settings: dict[str, Any]
    results: list[Result]
    ceilings_s: dict[int, float]
    """Seconds of scikit-learn's predict per batch size."""
    served_s: dict[int, float]
    """Seconds of the predictor our runtime serves (inference.booster) per batch size."""
    ready_s: dict[str, float]
    drift_s: dict[int, float] | None
    pipeline_s: float | None
    load_after: float


def _find(run: Run, contender: str, protocol: str, clients: int, rows: int) -> Result | None:
    return next(
        (
            r
            for r in run.results
            if (r.cell.contender, r.cell.protocol, r.cell.clients, r.cell.rows)
            == (contender, protocol, clients, rows)
        ),
        None,
    )


def targets(run: Run) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each of the issue's targets this run could judge."""
    out: list[tuple[str, str, bool | None]] = []
    rest, stock = _find(run, "ours", "rest", 16, 1), _find(run, "stock", "rest", 16, 1)
    grpc = _find(run, "ours", "grpc", 16, 1)
    if rest and stock:
        ratio = rest.throughput / stock.throughput if stock.throughput else float("inf")
        out.append(("REST >= 3x stock throughput (16 clients, 1 row)", f"{ratio:.2f}x", ratio >= 3))
    if rest:
        out.append(
            ("REST p99 < 20 ms (16 clients, 1 row)", f"{rest.p99_ms:.1f} ms", rest.p99_ms < 20)
        )
    if rest and grpc:
        ratio = grpc.throughput / rest.throughput if rest.throughput else 0.0
        out.append(("gRPC >= REST throughput (16 clients, 1 row)", f"{ratio:.2f}x", ratio >= 1))
    big = _find(run, "ours", "rest", 1, 1000)
    if big and 1000 in run.served_s:
        ratio = big.p50_ms / 1000 / run.served_s[1000]
        out.append(
            ("1,000 rows: server p50 <= 2x model predict (1 client)", f"{ratio:.2f}x", ratio <= 2)
        )
    if "ours" in run.ready_s:
        ready = run.ready_s["ours"]
        out.append(("Ready within 10 s of start", f"{ready:.1f} s", ready < 10))
    rss = [r.rss_mb for r in run.results if r.cell.contender == "ours"]
    if rss:
        out.append(("Predictor RSS < 400 MB (peak)", f"{max(rss):.0f} MB", max(rss) < 400))
    if run.drift_s and 1_000_000 in run.drift_s:
        seconds = run.drift_s[1_000_000]
        out.append(("Drift check on 1M x 8 < 5 s", f"{seconds:.2f} s", seconds < 5))
    return out


def markdown(run: Run) -> str:
    m = run.machine
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, "
        f"Linux {m['kernel']}. 1-min load average {m['load_average_1m']:.2f} before, "
        f"{run.load_after:.2f} after.",
        f"Run: {json.dumps(run.settings)}",
        "",
        "| contender | protocol | clients | rows | req/s | rows/s | p50 ms | p95 ms | p99 ms "
        "| errors | server CPU % | server RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(run.results, key=lambda r: (r.cell.rows, r.cell.clients)):
        c = r.cell
        lines.append(
            f"| {c.contender} | {c.protocol} | {c.clients} | {c.rows} | {r.throughput:,.0f} "
            f"| {r.throughput * c.rows:,.0f} | {r.p50_ms:.2f} | {r.p95_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.errors} | {r.cpu_percent:.0f} | {r.rss_mb:.0f} |"
        )
    lines += [
        "",
        "## Ceilings: the model's own predict (in-process, one thread, server CPU)",
        "",
        "Served predictor: what our runtime calls (inference.booster: the compiled tree walk",
        f"up to {booster.SMALL_BATCH} rows, scikit-learn above).",
        "",
        "| rows | scikit-learn ms | per row us | served predictor ms | per row us |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, s in sorted(run.ceilings_s.items()):
        ours = run.served_s[n]
        own_cells = f"{s * 1e3:.3f} | {s / n * 1e6:.1f}"
        lines.append(f"| {n} | {own_cells} | {ours * 1e3:.3f} | {ours / n * 1e6:.1f} |")
    lines += ["", "## Other costs", "", "| what | seconds |", "|---|---:|"]
    lines += [f"| start to model ready: {name} | {s:.1f} |" for name, s in run.ready_s.items()]
    if run.drift_s is None:
        lines.append("| drift check | (monitoring.drift not available) |")
    else:
        lines += [f"| drift check, {n:,} rows x 8 | {s:.3f} |" for n, s in run.drift_s.items()]
    pipeline = f"{run.pipeline_s:.0f}" if run.pipeline_s is not None else "not run (`--pipeline`)"
    lines += [
        f"| DVC pipeline, forced | {pipeline} |",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    for name, measured, met in targets(run):
        lines.append(f"| {name} | {measured} | {'yes' if met else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r.cell.rows for r in run.results})
    series = sorted({(r.cell.contender, r.cell.protocol) for r in run.results})
    loads = sorted({r.cell.clients for r in run.results})
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.5 * len(sizes), 7), squeeze=False)
    for col, rows in enumerate(sizes):
        for contender, protocol in series:
            cells = sorted(
                (
                    r
                    for r in run.results
                    if (r.cell.contender, r.cell.protocol, r.cell.rows)
                    == (contender, protocol, rows)
                ),
                key=lambda r: r.cell.clients,
            )
            cells = [r for r in cells if r.throughput > 0]  # a log axis has no zero
            clients = [r.cell.clients for r in cells]
            label = f"{contender} {protocol}"
            axes[0][col].plot(clients, [r.throughput * rows for r in cells], "o-", label=label)
            axes[1][col].plot(clients, [r.p99_ms for r in cells], "o-", label=label)
        axes[0][col].set_title(f"batches of {rows} row(s)")
        axes[0][col].set_ylabel("rows/s")
        axes[1][col].set_ylabel("p99 ms")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(loads, [str(n) for n in loads])
            ax.set_yscale("log")
            ax.set_xlabel("concurrent clients")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(run: Run, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "machine": run.machine,
        "settings": run.settings,
        "results": [r.as_dict() for r in run.results],
        "ceilings_s": run.ceilings_s,
        "served_s": run.served_s,
        "ready_s": run.ready_s,
        "drift_s": run.drift_s,
        "pipeline_s": run.pipeline_s,
        "load_after": run.load_after,
        "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets(run)],
    }
    (folder / "latest.json").write_text(json.dumps(body, indent=2) + "\n")
    (folder / "latest.md").write_text(markdown(run))
    plot(run, folder / "latest.png")
    return folder / "latest.md"
