"""The prediction log writer: every served row reaches the prediction store, off the request
path.

`submit` only appends the request's arrays to a bounded deque (no lock, no thread wake-up per
request: a wake-up per request measured as a thread switch, and a GIL hand-over, per request);
the background thread wakes once per `batch_rows` submitted rows or every `flush_interval_s`,
builds the rows of everything queued column-wise (numpy `tolist`, no dict per row) and INSERTs
them through the driver's `executemany`, `batch_rows` rows per transaction. SQLAlchemy's own
per-row parameter processing was two thirds of the writer's time, held under the GIL.
SQLAlchemy (and the schema, core.predstore) is imported by the writer thread when it opens the
store: ~0.4 s of import that the server's start to ready does not wait for.

A failed write is retried with doubling back-off; rows that still cannot be written, or that
find the queue full, are dropped: counted in `calhousing_predlog_dropped_rows_total` by reason
and logged, never silently. `close` (model unload, or process exit after SIGTERM) writes
whatever is queued before returning. The store is opened by the writer, not by the model's
load: a store that is down or refuses us leaves the model serving, and its rows go the same
way as failed writes (retried, then dropped and counted), with the reason in the log.
"""

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from core.features import FEATURE_NAMES
from core.settings import PredlogSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger("calhousing.predlog")

WRITTEN: Final = Counter(
    "calhousing_predlog_written_rows", "Rows written to the prediction log.", ["model"]
)
DROPPED: Final = Counter(
    "calhousing_predlog_dropped_rows",
    "Rows the prediction log gave up on: `queue_full` or `write_failed`.",
    ["model", "reason"],
)
COLUMNS: Final = (
    "ts", "request_id", "row", "model_name", "model_version", *FEATURE_NAMES, "prediction",
)  # fmt: skip
"""The inserted columns, in the order `rows` builds each row's values."""


@dataclass(frozen=True)
class Served:
    """One request's rows, as the runtime answered them."""

    ts: float
    request_id: str
    model_name: str
    model_version: str
    inputs: npt.NDArray[np.float64]
    predictions: npt.NDArray[np.float64]


def rows(batch: Sequence[Served]) -> list[tuple[Any, ...]]:
    """Each served row's values in COLUMNS order: one concatenation and `tolist` per column
    for the whole batch, not a Python dict per row."""
    counts = [len(s.inputs) for s in batch]

    def each(values: Iterator[Any]) -> list[Any]:  # one value per request, once per row
        return list(chain.from_iterable(map(repeat, values, counts)))

    features = np.concatenate([s.inputs for s in batch]).T.tolist()
    return list(
        zip(
            each(s.ts for s in batch),
            each(s.request_id for s in batch),
            list(chain.from_iterable(map(range, counts))),
            each(s.model_name for s in batch),
            each(s.model_version for s in batch),
            *features,
            np.concatenate([s.predictions for s in batch]).tolist(),
            strict=True,
        )
    )


class Insert:
    """INSERT of COLUMNS straight through the driver's executemany, in its paramstyle."""

    def __init__(self, engine: "Engine") -> None:
        # Here, not at the top: the writer thread imports SQLAlchemy, off the start path.
        from sqlalchemy import insert

        from core.predstore import PREDICTIONS

        compiled = insert(PREDICTIONS).compile(dialect=engine.dialect, column_keys=list(COLUMNS))
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        if self.positional and tuple(compiled.positiontup or ()) != COLUMNS:
            raise ValueError(f"unexpected INSERT parameter order {compiled.positiontup}")

    def __call__(self, engine: "Engine", values: list[tuple[Any, ...]]) -> None:
        params: list[Any] = values
        if not self.positional:  # e.g. psycopg's %(name)s
            params = [dict(zip(COLUMNS, row, strict=True)) for row in values]
        with engine.begin() as connection:
            connection.exec_driver_sql(self.sql, params)


@cache
def store_errors() -> tuple[type[Exception], ...]:
    """A store down, refusing us, or (SQLite) a folder that cannot be made."""
    from sqlalchemy.exc import SQLAlchemyError  # when first needed: off the start path

    return (SQLAlchemyError, OSError)


class PredictionLog:
    """A background writer for one model's served rows; `close` is idempotent."""

    def __init__(self, settings: PredlogSettings, url: str, model: str) -> None:
        self.settings, self.model, self._url = settings, model, url
        self._engine: Engine | None = None
        self._insert: Insert | None = None
        self._queued: deque[Served] = deque()  # append and popleft are atomic: no lock
        self._wake = threading.Event()
        self._unsignalled = 0  # rows submitted since the writer was last woken
        self._thread = threading.Thread(target=self._run, name="predlog", daemon=True)
        self._closed = False
        for reason in ("queue_full", "write_failed"):
            DROPPED.labels(model, reason)
        self._thread.start()
        # MLServer does not unload models on SIGTERM: the interpreter's exit is our last call.
        atexit.register(self.close)

    def submit(self, served: Served) -> None:
        if len(self._queued) >= self.settings.queue_requests:
            self._drop("queue_full", len(served.inputs), served.request_id)
            return
        self._queued.append(served)
        self._unsignalled += len(served.inputs)
        if self._unsignalled >= self.settings.batch_rows:  # once per batch, not per request
            self._unsignalled = 0
            self._wake.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._wake.set()
        self._thread.join(self.settings.shutdown_timeout_s)
        if self._thread.is_alive():
            left = len(self._queued)
            logger.error("prediction log: %d request(s) still queued after shutdown", left)
            return
        self._flush()  # anything submitted between the writer's last look and its exit
        if self._engine is not None:
            self._engine.dispose()

    def _store(self) -> tuple["Engine", Insert]:
        """The store, opened (tables created) on first use and kept."""
        if self._engine is None or self._insert is None:
            from core.predstore import connect  # in the writer thread: off the start path

            self._engine = connect(self._url)
            self._insert = Insert(self._engine)
        return self._engine, self._insert

    def _run(self) -> None:
        try:
            self._store()
        except store_errors() as err:  # say so at start, not only when the first rows drop
            logger.error("prediction log: cannot open the store (rows are retried): %s", err)
        while True:
            self._wake.wait(self.settings.flush_interval_s)
            self._wake.clear()
            stopping = self._closed  # read before draining: a later close wakes us again
            self._flush()
            if stopping:
                return

    def _flush(self) -> None:
        """Write everything queued, in transactions of about `batch_rows` rows."""
        batch: list[Served] = []
        size = 0
        while self._queued:
            batch.append(served := self._queued.popleft())
            size += len(served.inputs)
            if size >= self.settings.batch_rows:
                self._write(batch)
                batch, size = [], 0
        self._write(batch)

    def _write(self, batch: list[Served]) -> None:
        if not batch:
            return
        values, wait = rows(batch), self.settings.retry_backoff_s
        for attempt in range(self.settings.retries + 1):
            try:
                engine, insert_rows = self._store()
                insert_rows(engine, values)
            except store_errors() as err:
                logger.warning("prediction log write failed (attempt %d): %s", attempt + 1, err)
                if attempt < self.settings.retries:
                    time.sleep(wait)
                    wait *= 2
                continue
            WRITTEN.labels(self.model).inc(len(values))
            return
        self._drop("write_failed", len(values), batch[0].request_id)

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
