"""The suite's output: `latest.json` (every figure), `latest.md` (tables and the targets' verdicts)
and `latest.png` (throughput and p99 per contender, load and batch size)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import previous
from benchmarks.load_cell import Result
from benchmarks.open_loop import OpenResult
from benchmarks.targets import targets


@dataclass(frozen=True)
class Run:
    machine: dict[str, Any]
    settings: dict[str, Any]
    results: list[Result]
    open_loop: list[OpenResult]
    ceilings_s: dict[int, float]
    """Seconds of scikit-learn's predict per batch size."""
    served_s: dict[int, float]
    """Seconds of the predictor our runtime serves (inference.booster) per batch size."""
    ready_s: dict[str, float]
    drift_s: dict[int, float] | None
    pipeline_s: float | None
    load_after: float


def markdown(run: Run, before: dict[str, Any] | None = None) -> str:
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
        "Served predictor: what our runtime calls (inference.booster: the compiled forest",
        "tables where the model compiles, scikit-learn's estimator otherwise).",
        "",
        "| rows | scikit-learn ms | per row us | served predictor ms | per row us |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, s in sorted(run.ceilings_s.items()):
        ours = run.served_s[n]
        own_cells = f"{s * 1e3:.3f} | {s / n * 1e6:.1f}"
        lines.append(f"| {n} | {own_cells} | {ours * 1e3:.3f} | {ours / n * 1e6:.1f} |")
    lines += _open_loop(run)
    lines += ["", "## Other costs", "", "| what | seconds |", "|---|---:|"]
    lines += [f"| start to model ready: {name} | {s:.1f} |" for name, s in run.ready_s.items()]
    if run.drift_s is None:
        lines.append("| drift check | (monitoring.drift not available) |")
    else:
        lines += [f"| drift check, {n:,} rows x 8 | {s:.3f} |" for n, s in run.drift_s.items()]
    pipeline = f"{run.pipeline_s:.0f}" if run.pipeline_s is not None else "not run (`--pipeline`)"
    lines += [f"| DVC pipeline, forced | {pipeline} |", *_targets(run, before)]
    return "\n".join(lines) + "\n"


def _open_loop(run: Run) -> list[str]:
    lines = [
        "",
        "## Open loop: constant arrival rate, 1 row (latency from each request's due time)",
        "",
        "Rates are fractions of each contender's own closed-loop 16-client, 1-row throughput.",
        "`sent` is the rate the generator kept (asked vs sent says whether it held its",
        "schedule); `lag p99` is how late its sends left.",
        "",
        "| contender | protocol | % of saturation | asked req/s | sent req/s | answered req/s "
        "| p50 ms | p99 ms | p99.9 ms | max ms | errors | lag p99 ms | server CPU % |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in sorted(run.open_loop, key=lambda o: (o.contender, o.protocol, o.fraction)):
        lines.append(
            f"| {o.contender} | {o.protocol} | {o.fraction:.0%} | {o.asked_rps:,.0f} "
            f"| {o.sent_rps:,.0f} | {o.achieved_rps:,.0f} | {o.p50_ms:.2f} | {o.p99_ms:.2f} "
            f"| {o.p999_ms:.2f} | {o.max_ms:.2f} | {o.errors} | {o.lag_p99_ms:.2f} "
            f"| {o.cpu_percent:.0f} |"
        )
    return lines


def _targets(run: Run, before: dict[str, Any] | None) -> list[str]:
    """The verdicts, with the previous run's value and the change when there was one."""
    lines = ["", "## Targets", ""]
    changes = {t["target"]: t for t in (before or {}).get("targets", [])}
    lines += ["| target | measured | met | previous | change |", "|---|---:|---|---:|---:|"]
    for target in targets(run):
        change = changes.get(target.name, {})
        was = change.get("previous")
        shown = target.template.format(was) if was is not None else "-"
        pct = change.get("change_pct")
        delta = f"{pct:+.1f}%" if pct is not None else "-"
        met = "yes" if target.met else "NO"
        lines.append(f"| {target.name} | {target.measured} | {met} | {shown} | {delta} |")
    return lines


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
    """latest.{json,md,png} in `folder`, compared with the latest.json already there."""
    folder.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "machine": run.machine,
        "settings": run.settings,
        "results": [r.as_dict() for r in run.results],
        "open_loop": [o.as_dict() for o in run.open_loop],
        "ceilings_s": run.ceilings_s,
        "served_s": run.served_s,
        "ready_s": run.ready_s,
        "drift_s": run.drift_s,
        "pipeline_s": run.pipeline_s,
        "load_after": run.load_after,
        "targets": [
            {"target": t.name, "measured": t.measured, "value": t.value, "met": t.met}
            for t in targets(run)
        ],
    }
    earlier = previous.load(folder / "latest.json")
    body["previous"] = previous.compare(earlier, body) if earlier else None
    (folder / "latest.json").write_text(json.dumps(body, indent=2) + "\n")
    (folder / "latest.md").write_text(markdown(run, body["previous"]))
    plot(run, folder / "latest.png")
    return folder / "latest.md"
