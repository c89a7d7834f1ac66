"""MLServer, configured from our Settings and run in the foreground through its Python API.

`build(settings)` is pure (no JSON settings files, no environment); `serve(settings)` is the
edge that runs it until SIGTERM/SIGINT, which MLServer itself handles by stopping its servers.
"""

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from mlserver import MLServer
from mlserver.errors import ModelNotFound
from mlserver.rest.errors import _EXCEPTION_HANDLERS
from mlserver.rest.responses import Response
from mlserver.settings import ModelParameters, ModelSettings
from mlserver.settings import Settings as MLServerSettings
from mlserver.utils import install_uvloop_event_loop
from starlette.exceptions import HTTPException

from core.errors import CalhousingError
from core.settings import Settings, default_environment
from core.telemetry import json_logging
from inference import drain, guards
from inference.runtime import HousingRuntime
from inference.runtime_config import RuntimeConfig

JSON_LOGGERS = ("mlserver", "uvicorn", "calhousing", "inference")
"""MLServer, its HTTP servers, and ours (calhousing.requests: one line per request)."""


def build(settings: Settings) -> tuple[MLServerSettings, ModelSettings]:
    """MLServer's server and model settings for serving `settings.serve_model_uri`."""
    serve = settings.serve
    server = MLServerSettings(
        # debug=True (MLServer's default) answers client mistakes with 500 and a traceback.
        debug=False,
        # In-process inference: 1.7.1's worker pool crashes with uvloop >= 0.22 (MLServer#2286)
        # and would pickle every request to another process on a 2-core pod.
        parallel_workers=0,
        host=serve.host,
        http_port=serve.http_port,
        grpc_port=serve.grpc_port,
        metrics_port=serve.metrics_port,
        # gRPC's own limit; _Server applies the same one to REST bodies.
        grpc_max_message_length=serve.max_request_bytes,
        metrics_dir=str(serve.workdir / "metrics"),
        environments_dir=str(serve.workdir / "envs"),
        # The repository API scans this folder for model-settings.json; ours has none.
        model_repository_root=str(serve.workdir),
        # Applied to MLServer's loggers and both uvicorn servers (REST, metrics).
        logging_settings=json_logging(JSON_LOGGERS) if settings.monitoring.json_logs else None,
    )
    model = ModelSettings(
        name=settings.registry.model_name,
        implementation=f"{HousingRuntime.__module__}.{HousingRuntime.__qualname__}",
        parameters=ModelParameters(
            uri=settings.serve_model_uri,
            extra=RuntimeConfig.from_settings(settings).to_extra(),
        ),
    )
    return server, model


async def _body_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 `{"detail": [...]}` for a malformed body, as the V2 400 `{"error": ...}`."""
    if isinstance(exc, HTTPException):
        return Response(status_code=exc.status_code, content={"error": str(exc.detail)})
    errors: list[dict[str, Any]] = list(getattr(exc, "errors", list)())
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return Response(status_code=400, content={"error": f"invalid request body: {message}"})


def install_rest_error_handlers() -> None:
    """Make body validation errors speak the V2 error shape.

    MLServer builds its FastAPI app inside `MLServer(...)` from the handler table in
    `mlserver.rest.errors`, and exposes no hook for more; adding our handlers to that table
    before the server is built changes nothing else (no subclass, no route or middleware
    patch), and `HTTPException` keeps its status (404, 405) with an `error` body.
    """
    _EXCEPTION_HANDLERS[RequestValidationError] = _body_error
    _EXCEPTION_HANDLERS[HTTPException] = _body_error


class _Server(MLServer):  # type: ignore[misc]  # mlserver ships no type hints
    """Adds the request guards MLServer lacks (inference.guards): REST body limit, raw gRPC
    checks, and says whether a model is loaded once the server has stopped."""

    def __init__(self, settings: MLServerSettings, drain_marker: Path) -> None:
        self._drain_marker = drain_marker  # before MLServer's __init__ creates the servers
        super().__init__(settings)

    def _create_servers(self) -> None:
        super()._create_servers()
        limit = self._settings.grpc_max_message_length
        self._rest_server._app.add_middleware(guards.RequestGuard, max_bytes=limit)
        self._rest_server._app.add_middleware(drain.Drain, marker=self._drain_marker)
        self._grpc_server = guards.CheckedGRPCServer(
            self._settings, self._data_plane, self._model_repository_handlers
        )

    async def has_model(self, name: str) -> bool:
        """MLServer removes a model that failed to load from its registry, and stops
        nothing else on a signal, so this tells a failed start from a clean stop. (A flag
        set in `stop(sig)` cannot: MLServer's own failure stop passes uvicorn SIGINT, which
        uvicorn re-raises on exit, so the signal handler runs too, racing any check.)"""
        try:
            await self._model_registry.get_model(name)
        except ModelNotFound:
            return False
        return True


def publish(server: MLServerSettings, model: ModelSettings) -> None:
    """Write the model's settings into the repository folder: MLServer's reload API
    (`POST /v2/repository/models/<name>/load`) finds models there, and reloads this one by
    loading the alias's new version before unloading the old, so no request is dropped."""
    folder = Path(server.model_repository_root) / model.name
    folder.mkdir(parents=True, exist_ok=True)
    body = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    (folder / "model-settings.json").write_text(json.dumps(body, indent=2))


async def _run(settings: Settings) -> None:
    server_settings, model_settings = build(settings)
    publish(server_settings, model_settings)
    # A container restarted in the same pod (liveness) finds its last preStop's marker.
    settings.serve.drain_marker.unlink(missing_ok=True)
    server = _Server(server_settings, settings.serve.drain_marker)
    await server.start([model_settings])
    if not await server.has_model(model_settings.name):
        raise CalhousingError(
            f"model {model_settings.name!r} failed to load from {settings.serve_model_uri} "
            f"(tracking server {settings.mlflow.tracking_uri}); the log above says why"
        )


def lean_log_records() -> None:
    """Log records without thread, process or caller: the JSON lines carry none of them, and
    gathering them (a stack walk for the caller) was a third of the request line's cost. The
    standard library's own switches for this (its logging HOWTO, "Optimization")."""
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


def serve(settings: Settings) -> None:
    """Serve V2 REST, gRPC and /metrics until SIGTERM or SIGINT (blocking)."""
    default_environment(settings.serve.mlflow_client_environment())
    if settings.monitoring.json_logs:
        lean_log_records()
    install_rest_error_handlers()
    # uvloop is safe in-process (the crash is in worker processes) and what MLServer's CLI uses.
    install_uvloop_event_loop()
    asyncio.run(_run(settings))
