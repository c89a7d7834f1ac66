"""The prediction log writer: every served row reaches the prediction store, off the request
path.

`submit` only puts the request's arrays on a bounded queue (microseconds, never blocks the
event loop); a background thread turns them into rows and INSERTs them in batches. A failed
write is retried with doubling back-off; rows that still cannot be written, or that find the
queue full, are dropped: counted in `calhousing_predlog_dropped_rows_total` by reason and
logged, never silently. `close` (model unload, or process exit after SIGTERM) writes whatever
is queued before returning. The store is opened by the writer, not by the model's load: a store
that is down or refuses us leaves the model serving, and its rows go the same way as failed
writes (retried, then dropped and counted), with the reason in the log.
"""

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter
from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from core.features import FEATURE_NAMES
from core.predstore import PREDICTIONS, connect
from core.settings import PredlogSettings

logger = logging.getLogger("calhousing.predlog")

WRITTEN: Final = Counter(
    "calhousing_predlog_written_rows", "Rows written to the prediction log.", ["model"]
)
DROPPED: Final = Counter(
    "calhousing_predlog_dropped_rows",
    "Rows the prediction log gave up on: `queue_full` or `write_failed`.",
    ["model", "reason"],
)


@dataclass(frozen=True)
class Served:
    """One request's rows, as the runtime answered them."""

    ts: float
    request_id: str
    model_name: str
    model_version: str
    inputs: npt.NDArray[np.float64]
    predictions: npt.NDArray[np.float64]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "ts": self.ts,
                "request_id": self.request_id,
                "row": i,
                "model_name": self.model_name,
                "model_version": self.model_version,
                **dict(zip(FEATURE_NAMES, map(float, inputs), strict=True)),
                "prediction": float(prediction),
            }
            for i, (inputs, prediction) in enumerate(
                zip(self.inputs, self.predictions, strict=True)
            )
        ]


_STOP: Final = object()
STORE_ERRORS: Final = (SQLAlchemyError, OSError)
"""A store down, refusing us, or (SQLite) a folder that cannot be made."""


class PredictionLog:
    """A background writer for one model's served rows; `close` is idempotent."""

    def __init__(self, settings: PredlogSettings, url: str, model: str) -> None:
        self.settings, self.model, self._url = settings, model, url
        self._engine: Engine | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=settings.queue_requests)
        self._thread = threading.Thread(target=self._run, name="predlog", daemon=True)
        self._closed = False
        for reason in ("queue_full", "write_failed"):
            DROPPED.labels(model, reason)
        self._thread.start()
        # MLServer does not unload models on SIGTERM: the interpreter's exit is our last call.
        atexit.register(self.close)

    def submit(self, served: Served) -> None:
        try:
            self._queue.put_nowait(served)
        except queue.Full:
            self._drop("queue_full", len(served.inputs), served.request_id)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._queue.put(_STOP)
        self._thread.join(self.settings.shutdown_timeout_s)
        if self._thread.is_alive():
            left = self._queue.qsize()
            logger.error("prediction log: %d request(s) still queued after shutdown", left)
        if self._engine is not None:
            self._engine.dispose()

    def _store(self) -> Engine:
        """The store, opened (tables created) on first use and kept."""
        if self._engine is None:
            self._engine = connect(self._url)
        return self._engine

    def _run(self) -> None:
        try:
            self._store()
        except STORE_ERRORS as err:  # say so at start, not only when the first rows drop
            logger.error("prediction log: cannot open the store (rows are retried): %s", err)
        pending: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.settings.flush_interval_s
        while True:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                item = None
            if isinstance(item, Served):
                pending += item.rows()
            full = len(pending) >= self.settings.batch_rows
            if item is _STOP or full or time.monotonic() >= deadline:
                self._write(pending)
                pending = []
                deadline = time.monotonic() + self.settings.flush_interval_s
            if item is _STOP:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        wait = self.settings.retry_backoff_s
        for attempt in range(self.settings.retries + 1):
            try:
                with self._store().begin() as connection:
                    connection.execute(insert(PREDICTIONS), rows)
            except STORE_ERRORS as err:
                logger.warning("prediction log write failed (attempt %d): %s", attempt + 1, err)
                if attempt < self.settings.retries:
                    time.sleep(wait)
                    wait *= 2
                continue
            WRITTEN.labels(self.model).inc(len(rows))
            return
        self._drop("write_failed", len(rows), rows[0]["request_id"])

    def _drop(self, reason: str, rows: int, request_id: str) -> None:
        DROPPED.labels(self.model, reason).inc(rows)
        logger.error(
            "prediction log dropped %d row(s): %s",
            rows,
            reason,
            extra={"request_id": request_id, "model": self.model, "reason": reason},
        )


def open_log(settings: PredlogSettings, model: str) -> PredictionLog | None:
    """The log `settings` describe; None when it has no URL (logging off)."""
    if settings.url is None:
        return None
    return PredictionLog(settings, settings.url, model)
