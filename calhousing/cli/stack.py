"""The long-running services (the V2 server, MLflow, a local Prometheus), the walkthrough
that calls them, and `local start|stop` for `make demo`."""

from typing import Annotated

import typer

from calhousing.cli.app import app, local_app, settings_of, user_errors


@app.command()
@user_errors
def serve(ctx: typer.Context) -> None:
    """Serve the production model with MLServer: V2 REST, gRPC and metrics (foreground)."""
    from inference.server import serve as run

    run(settings_of(ctx))


@app.command()
@user_errors
def prometheus(ctx: typer.Context) -> None:
    """Run a local Prometheus and Pushgateway scraping the local server (foreground)."""
    from calhousing.prometheus import run

    run(settings_of(ctx))


@app.command("mlflow-server")
@user_errors
def mlflow_server(ctx: typer.Context) -> None:
    """Run the MLflow tracking server with proxied artifacts (foreground)."""
    from calhousing.services import exec_mlflow_server

    exec_mlflow_server(settings_of(ctx))


@app.command()
@user_errors
def demo(ctx: typer.Context) -> None:
    """Send sample V2 requests over REST and gRPC to the running server and summarise."""
    from calhousing.walkthrough import run

    typer.echo(run(settings_of(ctx)))


@local_app.command("start")
@user_errors
def local_start(
    service: Annotated[str, typer.Argument(help="mlflow or serve")],
    ctx: typer.Context,
    restart: Annotated[bool, typer.Option(help="Stop it first if it runs.")] = False,
) -> None:
    """Start a service in the background and wait until it is ready."""
    from calhousing.local import start, stop

    settings = settings_of(ctx)
    if restart:
        typer.echo(stop(settings, service))
    typer.echo(start(settings, service))


@local_app.command("stop")
@user_errors
def local_stop(ctx: typer.Context) -> None:
    """Stop every service `local start` started."""
    from calhousing.local import stop_all

    typer.echo(stop_all(settings_of(ctx)))
