"""Database URLs and engines for the two supported back ends.

The embedded default is a SQLite file under ``./var/``; a ``postgresql://`` URL (from
``--database`` or ``CHRONODELTA_DATABASE_URL``) selects PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

DATABASE_URL_ENV = "CHRONODELTA_DATABASE_URL"
BUSY_TIMEOUT_ENV = "CHRONODELTA_DB_BUSY_TIMEOUT_SECONDS"
# How long a transaction waits for a lock (SQLite's write lock, a PostgreSQL row lock)
# or for a free pooled connection before it gives up with DatabaseBusy, which the
# server answers with 503 and Retry-After (docs/architecture.md, "Transactions").
DEFAULT_BUSY_TIMEOUT_SECONDS = 15.0
DEFAULT_SQLITE_PATH = Path("var") / "chronodelta.db"

# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
# A deferred transaction that reads and then writes can fail with SQLITE_BUSY at the
# upgrade from a read to a write lock, which busy_timeout cannot wait out; taking the
# write lock up front makes concurrent writers queue instead.
SQLITE_IMMEDIATE = "chronodelta_sqlite_immediate"
SQLITE_IMMEDIATE_OPTIONS = {SQLITE_IMMEDIATE: True}
# Execution option for a connection that runs one read-only statement and nothing else
# (``read_statement``): no BEGIN, so SQLite runs the statement in its own implicit
# transaction, which is as consistent as an explicit one for a single statement.
SQLITE_SINGLE_STATEMENT = "chronodelta_sqlite_single_statement"
SQLITE_SINGLE_STATEMENT_OPTIONS = {SQLITE_SINGLE_STATEMENT: True}


@dataclass(frozen=True)
class WriterQueue:
    """The writers of one process on one SQLite database, served one at a time.

    SQLite's busy handler waits for the write lock by sleeping and retrying, in steps
    of up to 100 ms, so writers that meet at the lock wait far longer than the
    writes take (issue 9's load mix: a p99 of 185 ms for 7 ms writes). Threads of one
    process therefore queue on this lock first and only then take SQLite's; other
    processes still meet at SQLite's lock, with its busy timeout.
    """

    lock: threading.Lock
    timeout: float


_WRITER_QUEUES: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()


def writer_queue(engine: Engine) -> WriterQueue | None:
    """The engine's writer queue (SQLite engines made by ``create_engine``), if any."""
    return _WRITER_QUEUES.get(engine)


class DatabaseUrlError(ValueError):
    """The database URL names a back end chronodelta does not support."""


def resolve_database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else the environment, else the embedded file."""
    chosen = url or os.environ.get(DATABASE_URL_ENV)
    if chosen:
        return chosen
    return f"sqlite:///{DEFAULT_SQLITE_PATH.resolve()}"


def sqlalchemy_url(url: str) -> sa.URL:
    """Map the user-facing URL to the SQLAlchemy driver URL (psycopg 3 for PostgreSQL)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        rest = url.split(":", 1)[1]
        return sa.make_url("postgresql+psycopg:" + rest)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return sa.make_url(url)
    raise DatabaseUrlError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://..."
    )


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def busy_timeout_from_env() -> float:
    """The busy timeout: ``CHRONODELTA_DB_BUSY_TIMEOUT_SECONDS``, else the default."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_BUSY_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError(f"{BUSY_TIMEOUT_ENV} must be seconds in (0, 3600], got {raw!r}")
    return value


def create_engine(
    url: str | None = None,
    *,
    pool_size: int = 10,
    busy_timeout: float | None = None,
    wal_autocheckpoint: int | None = None,
) -> Engine:
    """An engine for ``url`` with the settings each back end needs to be safe and fast.

    ``busy_timeout`` (seconds; default from the environment) bounds every wait for a
    lock or a pooled connection; past it the transaction raises ``DatabaseBusy``.
    ``wal_autocheckpoint`` (SQLite only; pages, None keeps SQLite's 1,000, about 4 MB)
    is how large the WAL grows before a commit checkpoints it into the database: a
    bulk writer (the sync's mirror) syncs the disk less often with a larger one.
    """
    target = sqlalchemy_url(resolve_database_url(url))
    timeout = busy_timeout_from_env() if busy_timeout is None else busy_timeout
    if target.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(target, timeout)
        if wal_autocheckpoint is not None:
            pages = int(wal_autocheckpoint)

            def checkpoint_every(dbapi_connection: Any, _record: Any) -> None:
                # Registered after _configure_sqlite_connection, so it runs after it.
                dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={pages}")

            event.listen(engine, "connect", checkpoint_every)
        return engine
    return sa.create_engine(
        target,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=True,
        pool_timeout=timeout,
        # Every transaction starts with READ COMMITTED (PostgreSQL's default); the
        # per-tenant counter row (see _transactions.py) gives writes their order.
        # lock_timeout turns a wait behind a stuck writer into LockNotAvailable.
        connect_args={"options": f"-c lock_timeout={int(timeout * 1000)}"},
    )


def _create_sqlite_engine(target: sa.URL, timeout: float) -> Engine:
    database = target.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        target,
        connect_args={"check_same_thread": False, "timeout": timeout},
        pool_timeout=timeout,
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    _WRITER_QUEUES[engine] = WriterQueue(threading.Lock(), timeout)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (the sqlite3 module's own
    # implicit transactions would defer it and hide BEGIN IMMEDIATE).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; NORMAL sync is durable
    # across application crashes (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # busy_timeout was set by the driver from connect_args["timeout"].
    cursor.close()


def _begin_sqlite_transaction(connection: sa.Connection) -> None:
    options = connection.get_execution_options()
    if options.get(SQLITE_SINGLE_STATEMENT, False):
        return  # the two round trips of BEGIN and COMMIT, saved on every API call
    immediate = options.get(SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
