"""The DVC stages, one command each, and all of them in one process (a training Job)."""

from typing import Annotated

import typer

from calhousing.cli.app import app, settings_of, user_errors


@app.command()
@user_errors
def ingest(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Override data.source.")] = None,
) -> None:
    """Read the raw data from its source, validate it, write data/raw/."""
    from training.ingest import ingest as run

    settings = settings_of(ctx)
    if source is not None:
        settings = settings.model_copy(
            update={"data": settings.data.model_copy(update={"source": source})}
        )
    typer.echo(run(settings))


@app.command()
@user_errors
def recent(ctx: typer.Context) -> None:
    """Snapshot the prediction log's labelled rows (data.recent) for training: data/recent/."""
    from training.recent import recent as run

    typer.echo(run(settings_of(ctx)))


@app.command()
@user_errors
def prepare(ctx: typer.Context) -> None:
    """Split the raw data (frozen holdout) and compute the reference profile."""
    from training.prepare import prepare as run

    typer.echo(run(settings_of(ctx)))


@app.command()
@user_errors
def train(ctx: typer.Context) -> None:
    """Fit every model family and log each as an MLflow run."""
    from training.train import train as run

    typer.echo(run(settings_of(ctx)))


@app.command()
@user_errors
def evaluate(ctx: typer.Context) -> None:
    """Score the candidates on validation and holdout; pick the best."""
    from training.evaluate import evaluate as run

    typer.echo(run(settings_of(ctx)))


@app.command()
@user_errors
def register(ctx: typer.Context) -> None:
    """Register the best candidate; promote it only if it beats the champion."""
    from training.decision_push import push_decision
    from training.register import register as run

    settings = settings_of(ctx)
    decision = run(settings)
    typer.echo(decision.summary(settings.registry.alias))
    push_decision(settings, decision)


@app.command()
@user_errors
def pipeline(
    ctx: typer.Context,
    unless_served: Annotated[
        bool, typer.Option(help="Do nothing if the alias already names a version.")
    ] = False,
) -> None:
    """All training stages in one process: what a Kubernetes training Job runs."""
    from core.telemetry import TRAINING_JOB, batch_job
    from training.decision_push import push_decision
    from training.pipeline import run_all
    from training.register import served_version

    settings = settings_of(ctx)
    # The chart's first-model Job runs on every install and upgrade: train only the first time.
    if unless_served and (version := served_version(settings)) is not None:
        typer.echo(f"@{settings.registry.alias} names version {version}: nothing to train")
        return
    with batch_job(settings.monitoring, TRAINING_JOB, settings.registry.model_name):
        push_decision(settings, run_all(settings, typer.echo))
