"""The CLI's root: the Typer apps, the `--params` option, settings per command, and how an
expected failure is told (one line, exit 1). The commands live beside it, one module per
concern."""

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


def settings_of(ctx: typer.Context) -> Settings:
    params: Path = ctx.find_root().obj
    return load_settings(params)


def predlog_url(settings: Settings) -> str:
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
