"""The drift check and the feedback labels that measure realized error."""

from pathlib import Path
from typing import Annotated

import typer

from calhousing.cli.app import app, predlog_url, settings_of, user_errors
from core.errors import CalhousingError


@app.command()
@user_errors
def drift(
    ctx: typer.Context,
    at: Annotated[
        float | None, typer.Option(help="Unix time inside the window to check (default: now).")
    ] = None,
) -> None:
    """Check the current window of logged predictions for drift; maybe start a retrain.

    Exit codes: 0 no drift, 3 drift, 4 data-quality gate failed, 1 error (see monitoring.check).
    """
    from monitoring.drift_job import run

    text, outcome = run(settings_of(ctx), at)
    typer.echo(text)
    raise typer.Exit(int(outcome))


@app.command()
@user_errors
def feedback(
    labels: Annotated[Path, typer.Argument(help="CSV with request_id, row, value columns.")],
    ctx: typer.Context,
) -> None:
    """Store ground-truth labels by request id (each row checked; the refused ones counted by
    reason); print the realized RMSE of each version."""
    import csv
    import time

    from core.predstore import connect
    from monitoring.feedback import COLUMNS, against_store, parse
    from monitoring.store import add_labels, known_keys, realized_rmse

    engine = connect(predlog_url(settings_of(ctx)))
    with labels.open(newline="") as rows:
        reader = csv.DictReader(rows)
        if missing := [c for c in COLUMNS if c not in (reader.fieldnames or [])]:
            raise CalhousingError(f"{labels}: no column {', '.join(missing)} in its header")
        parsed = parse(reader)
    served, labelled = known_keys(engine, {label.request_id for label in parsed.accepted})
    checked = against_store(parsed, served, labelled)
    typer.echo(checked.summary(add_labels(engine, checked.accepted, time.time())))
    for version, (rmse, count) in sorted(realized_rmse(engine).items()):
        typer.echo(f"  v{version}: realized RMSE {rmse:.4f} on {count} labelled row(s)")
