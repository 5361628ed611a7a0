"""Lock waits are bounded: past the busy timeout a transaction raises DatabaseBusy.

Held by another connection: SQLite's write lock, or the tenant's counter row on
PostgreSQL. A read needs neither and goes on; a write (tenant or plain) waits for the
timeout, then gives up with nothing written. Errors that are not waits stay what
they are, so that a broken statement is never mistaken for load.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server import create_tenant
from chronodelta.storage import (
    DatabaseBusy,
    DatabaseConnectionLost,
    DatabaseUnavailable,
    create_engine,
    is_busy_error,
    is_postgresql,
    plain_write_transaction,
    read_transaction,
    tables,
    write_transaction,
)
from chronodelta.testing import free_port


@pytest.fixture
def quick(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, busy_timeout=0.3)
    yield engine
    engine.dispose()


@contextmanager
def locked(engine: Engine, tenant_id: int) -> Iterator[None]:
    if is_postgresql(engine):
        counters = tables.tenant_counters
        with engine.connect() as connection, connection.begin():
            connection.execute(
                sa.select(counters).where(counters.c.tenant_id == tenant_id).with_for_update()
            )
            connection.execute(sa.text("LOCK TABLE tenants IN EXCLUSIVE MODE"))
            yield
        return
    holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.close()


def count_tenants(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(tables.tenants)) or 0)


def test_writes_behind_a_held_lock_raise_database_busy_and_write_nothing(quick: Engine) -> None:
    owner = create_tenant(quick, "acme").id
    with locked(quick, owner):
        with pytest.raises(DatabaseBusy), write_transaction(quick, owner) as tx:
            tx.next_change_version()
        with pytest.raises(DatabaseBusy), plain_write_transaction(quick) as connection:
            connection.execute(tables.tenants.update().values(name="renamed"))
        assert count_tenants(quick) == 1  # a reader is not held up
    with write_transaction(quick, owner) as tx:
        assert tx.next_change_version() == 1  # the failed attempts took no version


def test_other_database_errors_are_not_busy(quick: Engine) -> None:
    with pytest.raises(sa.exc.DBAPIError) as raised, read_transaction(quick) as connection:
        connection.execute(sa.text("SELECT * FROM no_such_table"))
    assert not is_busy_error(raised.value)
    assert not isinstance(raised.value, DatabaseBusy)


def test_a_pool_with_no_free_connection_is_busy() -> None:
    assert is_busy_error(sa.exc.TimeoutError("QueuePool limit reached"))


def test_a_refused_postgresql_connection_is_connection_lost_not_busy() -> None:
    # A port nothing listens on: the connection attempt is refused.
    engine = create_engine(f"postgresql://nobody@127.0.0.1:{free_port()}/none", busy_timeout=1)
    try:
        with pytest.raises(DatabaseConnectionLost) as raised, read_transaction(engine):
            pass
    finally:
        engine.dispose()
    assert not isinstance(raised.value, DatabaseBusy)
    assert isinstance(raised.value, DatabaseUnavailable)
