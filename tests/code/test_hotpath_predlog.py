"""The prediction log's writer against a real SQLite store: every submitted row is written,
with its values and in order; it writes per batch or per interval, not per request; a full
queue drops and counts; and the driver-level INSERT works in a named paramstyle too (psycopg's
kind), not only SQLite's positional one."""

import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, func, select

from core.features import FEATURE_NAMES
from core.predstore import METADATA, PREDICTIONS, connect
from core.settings import PredlogSettings
from inference import predlog

Stored = tuple[str, int, float, str, str, tuple[float, ...], float]


def _served(i: int, rows: int) -> predlog.Served:
    x = np.random.default_rng(i).uniform(0, 10, size=(rows, len(FEATURE_NAMES)))
    return predlog.Served(1000.0 + i, f"req-{i}", "m", "3", x, x.sum(axis=1))


def _expected(sent: list[predlog.Served]) -> list[Stored]:
    return [
        (s.request_id, r, s.ts, s.model_name, s.model_version,
         tuple(s.inputs[r].tolist()), float(s.predictions[r]))
        for s in sent
        for r in range(len(s.inputs))
    ]  # fmt: skip


def _stored(url: str) -> list[Stored]:
    with connect(url).connect() as connection:
        rows = connection.execute(select(PREDICTIONS).order_by(PREDICTIONS.c.id)).mappings()
        return [
            (row["request_id"], row["row"], row["ts"], row["model_name"], row["model_version"],
             tuple(row[name] for name in FEATURE_NAMES), row["prediction"])
            for row in rows
        ]  # fmt: skip


def _count(url: str) -> int:
    with connect(url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(PREDICTIONS)).scalar_one())


def test_every_submitted_row_is_written_with_its_values_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    log = predlog.PredictionLog(PredlogSettings(url=url, batch_rows=7), url, "m")
    sent = [_served(i, rows) for i, rows in enumerate([1, 3, 1, 20, 1, 1000, 2, 7])]
    for served in sent:
        log.submit(served)
    log.close()
    assert _stored(url) == _expected(sent)


def test_the_writer_waits_for_a_batch_or_the_interval_not_for_each_request(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    settings = PredlogSettings(url=url, batch_rows=5, flush_interval_s=3600)
    log = predlog.PredictionLog(settings, url, "m")
    for i in range(4):
        log.submit(_served(i, 1))
    time.sleep(0.5)
    assert _count(url) == 0  # four rows: below the batch, and the interval is an hour
    log.submit(_served(4, 1))
    deadline = time.monotonic() + 10
    while _count(url) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(url) == 5
    log.close()


def test_a_full_queue_drops_and_counts_the_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    settings = PredlogSettings(url=url, batch_rows=10**6, flush_interval_s=3600, queue_requests=2)
    log = predlog.PredictionLog(settings, url, "full-queue")
    labels = {"model": "full-queue", "reason": "queue_full"}
    for i, rows in enumerate([2, 3, 4]):
        log.submit(_served(i, rows))
    assert REGISTRY.get_sample_value("calhousing_predlog_dropped_rows_total", labels) == 4
    log.close()
    assert _count(url) == 5


@pytest.mark.parametrize("paramstyle", ["qmark", "named"])
def test_the_driver_insert_writes_in_either_paramstyle(tmp_path: Path, paramstyle: str) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}", paramstyle=paramstyle)
    METADATA.create_all(engine)
    insert = predlog.Insert(engine)
    assert insert.positional == (paramstyle == "qmark")
    sent = [_served(i, rows) for i, rows in enumerate([1, 4])]
    insert(engine, predlog.rows(sent))
    assert _stored(str(engine.url)) == _expected(sent)
