"""Database URLs and engines for the two supported back ends.

The embedded default is a SQLite file under ``./var/``; a ``postgresql://`` URL (from
``--database`` or ``CHRONODELTA_DATABASE_URL``) selects PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

DATABASE_URL_ENV = "CHRONODELTA_DATABASE_URL"
DEFAULT_SQLITE_PATH = Path("var") / "chronodelta.db"

# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
# A deferred transaction that reads and then writes can fail with SQLITE_BUSY at the
# upgrade from a read to a write lock, which busy_timeout cannot wait out; taking the
# write lock up front makes concurrent writers queue instead.
SQLITE_IMMEDIATE = "chronodelta_sqlite_immediate"
SQLITE_IMMEDIATE_OPTIONS = {SQLITE_IMMEDIATE: True}


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


def create_engine(url: str | None = None, *, pool_size: int = 10) -> Engine:
    """An engine for ``url`` with the settings each back end needs to be safe and fast."""
    target = sqlalchemy_url(resolve_database_url(url))
    if target.get_backend_name() == "sqlite":
        return _create_sqlite_engine(target)
    return sa.create_engine(
        target,
        pool_size=pool_size,
        max_overflow=2 * pool_size,
        pool_pre_ping=True,
        # Every transaction starts with READ COMMITTED (PostgreSQL's default); the
        # per-tenant counter row (see _transactions.py) gives writes their order.
    )


def _create_sqlite_engine(target: sa.URL) -> Engine:
    database = target.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(target, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
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
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite_transaction(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
