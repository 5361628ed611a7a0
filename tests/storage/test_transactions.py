"""Write transactions: per-tenant versions and ids, and the lock that orders commits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server import create_tenant
from chronodelta.storage import read_transaction, write_transaction
from chronodelta.storage.tables import tenant_counters


def counter(engine: Engine, tenant_id: int, name: str = "change_version") -> int:
    with read_transaction(engine) as connection:
        value = connection.scalar(
            sa.select(tenant_counters.c.value).where(
                tenant_counters.c.tenant_id == tenant_id, tenant_counters.c.name == name
            )
        )
    assert value is not None
    return int(value)


def test_versions_increase_and_persist_per_tenant(engine: Engine) -> None:
    acme, globex = create_tenant(engine, "acme").id, create_tenant(engine, "globex").id
    with write_transaction(engine, acme) as tx:
        assert [tx.next_change_version() for _ in range(3)] == [1, 2, 3]
    with write_transaction(engine, acme) as tx:
        assert tx.next_change_version() == 4
    with write_transaction(engine, globex) as tx:
        assert tx.next_change_version() == 1  # tenants count on their own
    assert (counter(engine, acme), counter(engine, globex)) == (4, 1)


def test_ids_are_per_tenant_and_per_collection(engine: Engine) -> None:
    acme, globex = create_tenant(engine, "acme").id, create_tenant(engine, "globex").id
    with write_transaction(engine, acme) as tx:
        assert list(tx.allocate_ids("clockings", 3)) == [1, 2, 3]
        assert list(tx.allocate_ids("people")) == [1]
        tx.reserve_ids_through("terminals", 10)
        assert list(tx.allocate_ids("terminals")) == [11]
    with write_transaction(engine, globex) as tx:
        assert list(tx.allocate_ids("clockings")) == [1]
    with write_transaction(engine, acme) as tx:
        assert list(tx.allocate_ids("clockings")) == [4]


def test_a_failed_transaction_leaves_the_counters_alone(engine: Engine) -> None:
    acme = create_tenant(engine, "acme").id
    with pytest.raises(RuntimeError), write_transaction(engine, acme) as tx:
        tx.next_change_version()
        tx.allocate_ids("clockings", 5)
        raise RuntimeError("boom")
    assert counter(engine, acme) == 0 and counter(engine, acme, "clockings") == 0


def test_concurrent_writers_get_distinct_consecutive_versions(engine: Engine) -> None:
    acme = create_tenant(engine, "acme").id

    def write(_: int) -> list[int]:
        with write_transaction(engine, acme) as tx:
            return [tx.next_change_version() for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(write, range(40)))
    versions = sorted(v for batch in batches for v in batch)
    assert versions == list(range(1, 201))
    assert all(batch == list(range(batch[0], batch[0] + 5)) for batch in batches)


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_second_writer_waits_for_the_first_to_commit(engine: Engine) -> None:
    """The guarantee delta relies on: no version can commit after a higher one."""
    acme = create_tenant(engine, "acme").id
    second_version: list[int] = []
    with write_transaction(engine, acme) as first:
        first_version = first.next_change_version()

        def second_writer() -> None:
            with write_transaction(engine, acme) as tx:
                second_version.append(tx.next_change_version())

        thread = threading.Thread(target=second_writer)
        thread.start()
        wait_until_a_backend_waits_on_a_lock(engine)
        assert counter(engine, acme) == 0  # the first version is not visible yet
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert second_version == [first_version + 1]
    assert counter(engine, acme) == first_version + 1


def wait_until_a_backend_waits_on_a_lock(engine: Engine) -> None:
    """Poll PostgreSQL's own view of lock waits (a condition, not a guessed delay)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(10_000):
        with engine.connect() as connection:
            if connection.scalar(query):
                return
    raise AssertionError("the second writer never waited on the tenant's lock")
