"""The one front door: DVC stages, Makefile targets and Kubernetes workloads all call these.

Heavy imports (mlflow takes ~4 s) stay inside the commands so `--help` is instant.
"""

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from core.errors import CalhousingError
from core.settings import Settings, load_settings

app = typer.Typer(
    help="California Housing MLOps: data, training, registry, serving, drift.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
local_app = typer.Typer(help="Run the local stack (MLflow, MLServer) in the background.")
app.add_typer(local_app, name="local")

F = TypeVar("F", bound=Callable[..., Any])
ParamsOption = Annotated[
    Path, typer.Option("--params", envvar="CALHOUSING_PARAMS", help="params.yaml to read.")
]


@app.callback()
def main(ctx: typer.Context, params: ParamsOption = Path("params.yaml")) -> None:
    """California Housing MLOps: data, training, registry, serving, drift."""
    # Only the path here: each command reads it, after `--help` has been handled.
    ctx.obj = params


def _settings(ctx: typer.Context) -> Settings:
    params: Path = ctx.find_root().obj
    return load_settings(params)


def _predlog_url(settings: Settings) -> str:
    if settings.predlog.url is None:
        raise CalhousingError("the prediction log is off (predlog.url is empty): nothing to read")
    return settings.predlog.url


def user_errors(func: F) -> F:
    """Print expected failures as one line and exit 1; anything else keeps its traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CalhousingError as err:
            typer.secho(f"error: {func.__name__.replace('_', '-')}: {err}", fg="red", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@app.command()
@user_errors
def ingest(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Override data.source.")] = None,
) -> None:
    """Read the raw data from its source, validate it, write data/raw/."""
    from training.ingest import ingest as run

    settings = _settings(ctx)
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

    typer.echo(run(_settings(ctx)))


@app.command()
@user_errors
def prepare(ctx: typer.Context) -> None:
    """Split the raw data (frozen holdout) and compute the reference profile."""
    from training.prepare import prepare as run

    typer.echo(run(_settings(ctx)))


@app.command()
@user_errors
def train(ctx: typer.Context) -> None:
    """Fit every model family and log each as an MLflow run."""
    from training.train import train as run

    typer.echo(run(_settings(ctx)))


@app.command()
@user_errors
def evaluate(ctx: typer.Context) -> None:
    """Score the candidates on validation and holdout; pick the best."""
    from training.evaluate import evaluate as run

    typer.echo(run(_settings(ctx)))


@app.command()
@user_errors
def register(ctx: typer.Context) -> None:
    """Register the best candidate; promote it only if it beats the champion."""
    from training.decision_push import push_decision
    from training.register import register as run

    settings = _settings(ctx)
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

    settings = _settings(ctx)
    # The chart's first-model Job runs on every install and upgrade: train only the first time.
    if unless_served and (version := served_version(settings)) is not None:
        typer.echo(f"@{settings.registry.alias} names version {version}: nothing to train")
        return
    with batch_job(settings.monitoring, TRAINING_JOB, settings.registry.model_name):
        push_decision(settings, run_all(settings, typer.echo))


@app.command()
@user_errors
def serve(ctx: typer.Context) -> None:
    """Serve the production model with MLServer: V2 REST, gRPC and metrics (foreground)."""
    from inference.server import serve as run

    run(_settings(ctx))


@app.command()
@user_errors
def prometheus(ctx: typer.Context) -> None:
    """Run a local Prometheus and Pushgateway scraping the local server (foreground)."""
    from calhousing.prometheus import run

    run(_settings(ctx))


@app.command("mlflow-server")
@user_errors
def mlflow_server(ctx: typer.Context) -> None:
    """Run the MLflow tracking server with proxied artifacts (foreground)."""
    from calhousing.services import exec_mlflow_server

    exec_mlflow_server(_settings(ctx))


@app.command()
@user_errors
def demo(ctx: typer.Context) -> None:
    """Send sample V2 requests over REST and gRPC to the running server and summarise."""
    from calhousing.walkthrough import run

    typer.echo(run(_settings(ctx)))


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

    text, outcome = run(_settings(ctx), at)
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

    engine = connect(_predlog_url(_settings(ctx)))
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


@app.command("secret-init")
@user_errors
def secret_init(
    name: Annotated[str, typer.Argument(help="The Secret to create unless it exists.")],
    namespace: Annotated[str, typer.Option(help="Its namespace.")],
    key: Annotated[list[str], typer.Option(help="A key to fill with a random value.")],
    label: Annotated[list[str], typer.Option(help="KEY=VALUE label of the Secret.")] = [],  # noqa: B006
) -> None:
    """Create a Secret of random values once and never change it (the chart's hook: stable
    generated passwords without Helm's `lookup`, which Argo CD cannot run)."""
    from calhousing.secret_init import create_once
    from monitoring.launchers import kubernetes_client

    if bad := [pair for pair in label if "=" not in pair]:
        raise CalhousingError(f"--label takes KEY=VALUE, not {', '.join(bad)}")
    labels = dict(pair.split("=", 1) for pair in label)
    created = create_once(kubernetes_client(), namespace, name, key, labels)
    typer.echo(f"secret {namespace}/{name}: {'created' if created else 'exists, unchanged'}")


@app.command("predlog-provision")
@user_errors
def predlog_provision(
    ctx: typer.Context,
    wait_s: Annotated[float, typer.Option(help="How long to wait for the database.")] = 180,
) -> None:
    """Give the prediction log its own PostgreSQL role and database (MLflow's init container:
    it holds the superuser from mlflow.backend_store_uri; serving and drift never do)."""
    import time

    from psycopg import OperationalError

    from core.predstore import provision

    settings = _settings(ctx)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            typer.echo(provision(settings.mlflow.backend_store_uri, _predlog_url(settings)))
            return
        except OperationalError as err:  # the server is not up yet
            if time.monotonic() > deadline:
                message = f"PostgreSQL did not answer within {wait_s:g} s: {err}"
                raise CalhousingError(message) from err
            time.sleep(2)


@local_app.command("start")
@user_errors
def local_start(
    service: Annotated[str, typer.Argument(help="mlflow or serve")],
    ctx: typer.Context,
    restart: Annotated[bool, typer.Option(help="Stop it first if it runs.")] = False,
) -> None:
    """Start a service in the background and wait until it is ready."""
    from calhousing.local import start, stop

    settings = _settings(ctx)
    if restart:
        typer.echo(stop(settings, service))
    typer.echo(start(settings, service))


@local_app.command("stop")
@user_errors
def local_stop(ctx: typer.Context) -> None:
    """Stop every service `local start` started."""
    from calhousing.local import stop_all

    typer.echo(stop_all(_settings(ctx)))
