"""The prediction store's schema, shared by its writer (inference.predlog) and its readers
(monitoring): one SQLAlchemy URL, SQLite locally, PostgreSQL in the cluster.

Tables: `predictions` (one row per served row: inputs, output, model version, request id,
time), `labels` (ground truth that arrives later, by request id and row), and the drift
check's own state: `drift_windows` (one verdict per window) and `retrains` (what was started).
"""

from collections.abc import Iterator
from contextlib import contextmanager
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
    select,
    text,
)
from sqlalchemy.engine import URL, make_url

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


def labelled_rows(engine: Engine, since: float, limit: int) -> list[tuple[float, ...]]:
    """Served rows that have a ground-truth label, predicted at `since` or later, the most
    recent first: (the features in FEATURE_NAMES order, the label, the prediction's time)."""
    joined = PREDICTIONS.join(
        LABELS,
        (PREDICTIONS.c.request_id == LABELS.c.request_id) & (PREDICTIONS.c.row == LABELS.c.row),
    )
    columns = [*(PREDICTIONS.c[name] for name in FEATURE_NAMES), LABELS.c.value, PREDICTIONS.c.ts]
    query = (
        select(*columns)
        .select_from(joined)
        .where(PREDICTIONS.c.ts >= since)
        .order_by(PREDICTIONS.c.ts.desc(), PREDICTIONS.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


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


def provision(admin_url: str, url: str) -> str:
    """Give the prediction log its own role and database on the server `admin_url` administers
    (`url` names the role, its password and the database), so serving and drift pods never hold
    MLflow's superuser: the role logs in with that password (kept in step with the Secret), owns
    the database and its tables, and may not connect to MLflow's database. Idempotent."""
    admin, target = make_url(admin_url), make_url(url)
    role, database = str(target.username), str(target.database)
    with _admin_cursor(admin.set(database="postgres")) as cursor:
        _ensure_role(cursor, role, target.password or "")
        _ensure_database(cursor, database, role)
    with _admin_cursor(admin.set(database=database)) as cursor:
        _own_tables(cursor, role)
    with _admin_cursor(admin) as cursor:
        cursor.execute(_sql("REVOKE CONNECT ON DATABASE {} FROM PUBLIC", str(admin.database)))
    return f"prediction log: role {role} owns database {database} on {target.host}"


@contextmanager
def _admin_cursor(url: URL) -> Iterator[Any]:
    import psycopg

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        yield connection.cursor()


def _sql(template: str, *names: str, literal: str | None = None) -> Any:
    from psycopg import sql

    parts: list[Any] = [sql.Identifier(name) for name in names]
    return sql.SQL(template).format(*parts, *([sql.Literal(literal)] if literal else []))


def _ensure_role(cursor: Any, role: str, password: str) -> None:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    cursor.execute(_sql(verb + " ROLE {} LOGIN PASSWORD {}", role, literal=password))


def _ensure_database(cursor: Any, database: str, role: str) -> None:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    found = cursor.fetchone()
    cursor.execute(
        _sql("ALTER DATABASE {} OWNER TO {}" if found else "CREATE DATABASE {} OWNER {}",
             database, role)
    )  # fmt: skip
    cursor.execute(_sql("REVOKE ALL ON DATABASE {} FROM PUBLIC", database))


def _own_tables(cursor: Any, role: str) -> None:
    """Tables an earlier release created as the superuser become the role's."""
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    for (table,) in cursor.fetchall():
        cursor.execute(_sql("ALTER TABLE {} OWNER TO {}", table, role))
