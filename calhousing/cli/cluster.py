"""What the chart's hooks and init containers run: the generated Secret, the prediction log's
own database role."""

from typing import Annotated

import typer

from calhousing.cli.app import app, predlog_url, settings_of, user_errors
from core.errors import CalhousingError


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

    settings = settings_of(ctx)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            typer.echo(provision(settings.mlflow.backend_store_uri, predlog_url(settings)))
            return
        except OperationalError as err:  # the server is not up yet
            if time.monotonic() > deadline:
                message = f"PostgreSQL did not answer within {wait_s:g} s: {err}"
                raise CalhousingError(message) from err
            time.sleep(2)
