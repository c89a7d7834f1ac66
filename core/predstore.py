"""The prediction store's schema, shared by its writer (inference.predlog) and its readers
(monitoring): one SQLAlchemy URL, SQLite locally, PostgreSQL in the cluster.

Tables: `predictions` (one row per served row: inputs, output, model version, request id,
time), `labels` (ground truth that arrives later, by request id and row), and the drift
check's own state: `drift_windows` (one verdict per window) and `retrains` (what was started).
"""

from pathlib import Path
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url

from core.features import FEATURE_NAMES

METADATA: Final = MetaData()

PREDICTIONS: Final = Table(
    "predictions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False, index=True),
    Column("request_id", String(128), nullable=False, index=True),
    Column("row", Integer, nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("model_version", String(32), nullable=False),
    *(Column(name, Float, nullable=True) for name in FEATURE_NAMES),
    Column("prediction", Float, nullable=True),
)
LABELS: Final = Table(
    "labels",
    METADATA,
    Column("request_id", String(128), primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("value", Float, nullable=False),
    Column("ts", Float, nullable=False),
)
DRIFT_WINDOWS: Final = Table(
    "drift_windows",
    METADATA,
    Column("window", Integer, primary_key=True),
    Column("checked_at", Float, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("drifted", Boolean, nullable=False),
    Column("report", Text, nullable=False),
)
RETRAINS: Final = Table(
    "retrains",
    METADATA,
    Column("window", Integer, primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("name", String(253), nullable=False),
    Column("launcher", String(32), nullable=False),
    Column("reason", Text, nullable=False),
)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: the drift check reads while the server writes, without either waiting long.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def connect(url: str) -> Engine:
    """An engine on `url` with its database and every table created (no-ops when they exist)."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _sqlite_folder(url)
    elif engine.dialect.name == "postgresql":
        _postgres_database(url)
    METADATA.create_all(engine)
    return engine


def _postgres_database(url: str) -> None:
    """The prediction log is its own database on the MLflow server: create it on first use
    (the official image's user owns the server; a managed one may need it made by hand)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        found = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if found is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def _sqlite_folder(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
