"""The project's MLServer runtime: validated V2 requests in, one FP64 prediction column out.

Why not mlserver-mlflow or mlserver-sklearn: the first wants one input per column and
answers 500 with a traceback to any client mistake; the second cannot read skops files. This
runtime accepts both V2 layouts, refuses bad input with 400 / INVALID_ARGUMENT before the
model sees it, serves one concrete registry version at a time and follows the alias to the
next (inference.follow).

Model settings parameters: `uri` (e.g. `models:/calhousing@production`) and, in `extra`, an
inference.runtime_config.RuntimeConfig: the tracking server and its timeout, the batch limit,
where artifacts are unpacked while loading, predict threads, whether to predict through the
forest tables (inference.booster), the waits, the alias follower and the prediction log.

gRPC: MLServer 1.7.1 unpacks `raw_input_contents` itself (little-endian, one buffer per input,
answered in `raw_output_contents`), so raw and typed contents both reach `predict` as lists.
A raw buffer whose length does not match the shape fails in MLServer's converter before this
runtime runs, as INTERNAL ("unpack requires a buffer of N bytes"), not INVALID_ARGUMENT.
Over REST, NaN and infinities are not JSON: orjson refuses them, and the body is a 400.

Observability (inference.metrics): every request is counted, timed and logged as one line
under the concrete version; the V2 `id` is the request id, echoed in the response body, in an
`x-request-id` response header (gRPC: trailing metadata) and in every refusal's message.
"""

import asyncio
import gc
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
from mlserver import MLModel
from mlserver.errors import InferenceError, MLServerError
from mlserver.logging import logger
from mlserver.types import (
    Datatype,
    InferenceRequest,
    InferenceResponse,
    MetadataModelResponse,
    MetadataTensor,
    Parameters,
    ResponseOutput,
)
from mlserver.utils import generate_uuid
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES, TARGET
from core.registry import RunTag
from inference import codec, envelope, follow, loaded, loader, metrics, predlog, tracing
from inference.runtime_config import RuntimeConfig

OFFLOAD_ROWS: Final = 64
"""Batches of this many rows or more predict off the event loop (`HousingRuntime._predicted`)."""
OUTPUT: Final = TARGET.name
INPUTS: Final = [
    MetadataTensor(name=name, datatype=Datatype.FP64, shape=[-1]) for name in FEATURE_NAMES
]
OUTPUTS: Final = [MetadataTensor(name=OUTPUT, datatype=Datatype.FP64, shape=[-1, 1])]


class ModelLoadError(MLServerError):  # type: ignore[misc]  # mlserver ships no type hints
    """A failed load, answered (to a reload through the repository API) as V2's JSON error
    with status 500; any other exception would reach the client as MLServer's plain text."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=500)


@dataclass(frozen=True)
class _Serving:
    """What a request reads, swapped whole when the alias moves (inference.follow)."""

    estimator: loader.Regressor
    version: str
    metrics: metrics.ModelMetrics


class HousingRuntime(MLModel):  # type: ignore[misc]  # mlserver ships no type hints
    """Serves one registered version of the California Housing regressor at a time."""

    _predict_thread: ThreadPoolExecutor | None = None
    """Made on the first large batch (`_predicted`)."""

    async def load(self) -> bool:
        began = loaded.process_age_s()
        params = self.settings.parameters
        self._config = config = RuntimeConfig.from_extra(params.extra if params else None)
        self._uri = uri = params.uri if params and params.uri else ""
        self._max_rows = config.max_batch_rows
        metrics.loading(self.name)
        # In a thread: the REST and gRPC ports already answer (not ready) while this runs.
        try:
            model = await asyncio.to_thread(
                loader.load_when_available,
                loader.Wait(config.model_wait_s, config.model_wait_interval_s),
                uri,
                config.tracking(),
                config.scratch_dir,
                compiled=config.compiled_trees,
            )
        except Exception as err:
            metrics.load_failed(self.name)
            message = f"{self.name}: loading {uri} failed: {err}"
            logger.error(message, exc_info=True)  # the caller gets the message, the log the cause
            raise ModelLoadError(message) from err
        self._serving = self._serve(model)
        self._predlog = predlog.open_log(config.predlog, self.name)
        # OpenMP defaults to one thread per host core; when they contend for a pod's CPU
        # share (or with other processes) one single-row predict measured 150 ms, 0.25 ms
        # with one thread. Set once, on the event-loop thread that runs predict().
        threadpool_limits(limits=config.predict_threads)
        # A model fitted on a DataFrame warns on every numpy request; the loader has
        # already checked its columns match FEATURE_NAMES, so the warning says nothing.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        self._follower = self._follow(uri, config.follow_alias_s)
        # What is loaded by now (MLServer, pydantic, the model: ~150k objects) lives until exit,
        # yet each full collection walked it all: a 106 ms pause under load, every few seconds'
        # worth of requests, the open loop's p99.9. Frozen, a full collection sees only what
        # requests allocate (~1 ms). A reload freezes the new version's objects too.
        gc.freeze()
        _log_start(self.name, began)
        return True

    def _serve(self, model: loader.LoadedModel) -> _Serving:
        profile = "reference profile" if model.profile else "NO reference profile"
        logger.info(
            f"Model {self.name!r}: loaded {model.ref.uri} (from {self._uri}), {profile}, "
            f"{model.predictor}, {model.phases}"
        )
        version = model.ref.version
        served = metrics.ModelMetrics(self.name, version, _provenance(model), model.profile)
        return _Serving(model.estimator, version, served)

    def _follow(self, uri: str, period_s: float) -> "asyncio.Task[None] | None":
        _, alias, _ = loader.parse_uri(uri)
        if alias is None or period_s == 0:
            return None
        return asyncio.create_task(
            follow.follow(
                period_s,
                lambda: loader.alias_version(self._config.tracking(), uri),
                lambda: self._serving.version,
                self._switch,
                lambda version, _: metrics.load_failed(self.name, version),
            )
        )

    async def _switch(self, version: str) -> None:
        """Load `version` beside the one serving, then swap: in-flight requests finish on the
        old one, every later request gets the new one."""
        start, config = time.monotonic(), self._config
        name, _, _ = loader.parse_uri(self._uri)
        model = await asyncio.to_thread(
            loader.load, f"models:/{name}/{version}", config.tracking(), config.scratch_dir,
            compiled=config.compiled_trees,
        )  # fmt: skip
        old, self._serving = self._serving, self._serve(model)
        old.metrics.close()
        metrics.switched(self.name, version)
        logger.info(
            f"Model {self.name!r}: serving moved from v{old.version} to v{version} "
            f"({self._uri}) in {time.monotonic() - start:.1f} s"
        )

    async def unload(self) -> bool:
        if follower := getattr(self, "_follower", None):
            follower.cancel()
        if serving := getattr(self, "_serving", None):  # MLServer also unloads a failed load
            serving.metrics.close()
        if self._predict_thread is not None:  # lets a predict under way finish
            self._predict_thread.shutdown(wait=False)
        if log := getattr(self, "_predlog", None):  # writes what is still queued
            await asyncio.to_thread(log.close)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        # MLServer gives an id only to requests whose id is None; a gRPC request without one
        # arrives as protobuf's "" and would be logged, and answered, without a request id.
        request_id = payload.id = payload.id or generate_uuid()
        headers = tracing.headers_of(payload)
        proxy_id = headers.get(tracing.REQUEST_ID_HEADER, "")
        serving = self._serving  # one version for the whole request, even across a switch
        with serving.metrics.request(tracing.protocol_of(headers), request_id, proxy_id) as request:
            try:
                envelope.check(*_asked(payload), OUTPUT)
                matrix = codec.decode(payload.inputs, self._max_rows)
            except codec.InvalidRequestError as err:
                request.reject(err.reason, err.feature)
                raise InferenceError(f"{err} (request id {request_id})") from None
            values = np.asarray(await self._predicted(serving, matrix), dtype=np.float64).ravel()
            serving.metrics.observe(request, matrix, values)
        if self._predlog is not None:
            served = (request_id, self.name, serving.version, matrix, values)
            self._predlog.submit(predlog.Served(time.time(), *served))
        return InferenceResponse(
            model_name=self.name,
            model_version=serving.version,
            id=request_id,
            outputs=[
                ResponseOutput(
                    name=OUTPUT, shape=[len(values), 1], datatype=Datatype.FP64,
                    data=values.tolist(),
                )
            ],
            parameters=Parameters(headers={tracing.REQUEST_ID_HEADER: request_id}),
        )  # fmt: skip

    async def _predicted(self, serving: _Serving, matrix: codec.Matrix) -> codec.Matrix:
        """Small batches inline: a thread hop would cost more than their predict. Large ones
        in the one predict thread, in arrival order: inline, a 1,000-row predict held the
        event loop ~60 ms, during which no connection was accepted or read, and requests on
        new connections waited for several such rounds (p99 8.5 s against a p50 of 1 s)."""
        if len(matrix) < OFFLOAD_ROWS:
            return serving.estimator.predict(matrix)
        if self._predict_thread is None:
            # OpenMP's thread count is per calling thread: set it in the predict thread too.
            self._predict_thread = ThreadPoolExecutor(
                1, "predict", threadpool_limits, (self._config.predict_threads,)
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._predict_thread, serving.estimator.predict, matrix)

    async def metadata(self) -> MetadataModelResponse:
        """V2 metadata with the concrete registry version and the column layout's tensors."""
        versions = [self._serving.version] if self.ready else []
        return MetadataModelResponse(
            name=self.name, platform="sklearn", versions=versions, inputs=INPUTS, outputs=OUTPUTS
        )


def _asked(payload: InferenceRequest) -> tuple[str | None, dict[str, str | None], list[str]]:
    """The request's content type, the inputs' that declare one, and the outputs it names."""
    inputs = {
        i.name: i.parameters.content_type
        for i in payload.inputs
        if i.parameters is not None and i.parameters.content_type is not None
    }
    request_type = payload.parameters.content_type if payload.parameters else None
    return request_type, inputs, [o.name for o in payload.outputs or []]


def _log_start(name: str, began: float | None) -> None:
    """Where a start's time went, once the model is ready: the load's own phases are in the
    load's line; this adds what came before it (interpreter, imports, MLServer's servers)."""
    ready = loaded.process_age_s()
    if began is None or ready is None:
        return
    logger.info(
        f"Model {name!r}: ready {ready:.2f} s after the process started: "
        f"{began:.2f} s to the load (interpreter, imports, servers), "
        f"{ready - began:.2f} s loading; {gc.get_freeze_count()} objects kept out of the "
        "garbage collector's full passes"
    )


def _provenance(model: loader.LoadedModel) -> metrics.Provenance:
    tags = model.tags
    return metrics.Provenance(
        uri=model.ref.uri,
        run_id=model.ref.run_id,
        git_sha=tags.get(RunTag.GIT_SHA, ""),
        data_version=tags.get(RunTag.DATA_VERSION, ""),
    )
