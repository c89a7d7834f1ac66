"""The prediction store, read side: windows of served rows, ground-truth labels, realized RMSE
per version, and the drift check's durable state (window verdicts, retrains started)."""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select

from core.features import FEATURE_NAMES
from core.predstore import DRIFT_WINDOWS, LABELS, PREDICTIONS, RETRAINS
from core.profile import FloatArray
from monitoring.feedback import Key, Label


@dataclass(frozen=True)
class Window:
    number: int
    start: float
    end: float
    inputs: FloatArray
    """[rows, 8] in FEATURE_NAMES order; NaN where the store holds NULL."""
    predictions: FloatArray
    versions: dict[str, int]
    """Rows per model version that answered."""


def window_bounds(number: int, length_s: int) -> tuple[float, float]:
    return float(number * length_s), float((number + 1) * length_s)


def read_window(engine: Engine, number: int, length_s: int) -> Window:
    start, end = window_bounds(number, length_s)
    columns = [PREDICTIONS.c[name] for name in (*FEATURE_NAMES, "prediction")]
    query = select(*columns, PREDICTIONS.c.model_version).where(
        PREDICTIONS.c.ts >= start, PREDICTIONS.c.ts < end
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    values = np.array([r[:-1] for r in rows], dtype=np.float64).reshape(-1, len(columns))
    versions: dict[str, int] = {}
    for row in rows:
        versions[row[-1]] = versions.get(row[-1], 0) + 1
    return Window(number, start, end, values[:, :-1], values[:, -1], versions)


def record_window(
    engine: Engine, number: int, *, checked_at: float, rows: int, status: str, report: str
) -> None:
    """One verdict per window: a second check of the same window replaces the first."""
    with engine.begin() as connection:
        connection.execute(delete(DRIFT_WINDOWS).where(DRIFT_WINDOWS.c.window == number))
        connection.execute(
            insert(DRIFT_WINDOWS).values(
                window=number,
                checked_at=checked_at,
                rows=rows,
                status=status,
                drifted=status == "drift",
                report=report,
            )
        )


def drifted_windows(engine: Engine, numbers: Iterable[int]) -> set[int]:
    query = select(DRIFT_WINDOWS.c.window).where(
        DRIFT_WINDOWS.c.window.in_(list(numbers)), DRIFT_WINDOWS.c.drifted.is_(True)
    )
    with engine.connect() as connection:
        return set(connection.execute(query).scalars())


@dataclass(frozen=True)
class Retrain:
    window: int
    started_at: float
    name: str
    launcher: str
    reason: str


def last_retrain(engine: Engine) -> Retrain | None:
    query = select(RETRAINS).order_by(RETRAINS.c.started_at.desc()).limit(1)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else Retrain(**row._asdict())


def record_retrain(engine: Engine, retrain: Retrain) -> None:
    with engine.begin() as connection:
        connection.execute(delete(RETRAINS).where(RETRAINS.c.window == retrain.window))
        connection.execute(insert(RETRAINS).values(**vars(retrain)))


def known_keys(engine: Engine, request_ids: set[str]) -> tuple[set[Key], set[Key]]:
    """Of these requests' (request id, row) pairs: those served, and those labelled already."""
    ids, served, labelled = sorted(request_ids), set[Key](), set[Key]()
    with engine.connect() as connection:
        # In chunks: SQLite bounds the parameters of one statement.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for table, keys in ((PREDICTIONS, served), (LABELS, labelled)):
                query = select(table.c.request_id, table.c.row).where(table.c.request_id.in_(chunk))
                keys.update((r, i) for r, i in connection.execute(query))
    return served, labelled


def add_labels(engine: Engine, labels: Iterable[Label], now: float) -> int:
    """Store checked labels (monitoring.feedback): new (request id, row) pairs only."""
    rows = [{"request_id": x.request_id, "row": x.row, "value": x.value, "ts": now} for x in labels]
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(LABELS), rows)
    return len(rows)


def realized_rmse(engine: Engine) -> dict[str, tuple[float, int]]:
    """(RMSE, labelled rows) per model version, over every labelled prediction."""
    joined = PREDICTIONS.join(
        LABELS,
        (PREDICTIONS.c.request_id == LABELS.c.request_id) & (PREDICTIONS.c.row == LABELS.c.row),
    )
    error = (PREDICTIONS.c.prediction - LABELS.c.value) * (
        PREDICTIONS.c.prediction - LABELS.c.value
    )
    query = (
        select(PREDICTIONS.c.model_version, func.avg(error), func.count())
        .select_from(joined)
        .group_by(PREDICTIONS.c.model_version)
    )
    with engine.connect() as connection:
        return {v: (float(np.sqrt(mse)), int(n)) for v, mse, n in connection.execute(query)}
