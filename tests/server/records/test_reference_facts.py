"""The reference facts a clocking write checks against are cached, and a change to the
reference data made anywhere (here through another engine, as another worker would)
is seen by the next write.

Issue 14, item 1: "cache per tenant what rarely changes, with invalidation". The
cache revalidates with a signature (each reference table's highest change version
among its rows and among its removal departures), so a versioned insert and a removal
must both invalidate it, even a removal of a row that is not the newest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingDraft, ClockingKind, Scope
from chronodelta.server import ConnectorBackend, create_tenant, seed_tenant
from chronodelta.server._errors import BadRequest
from chronodelta.server.records._reference_facts import STALE, reference_facts
from chronodelta.storage import create_engine, read_transaction, tables, write_transaction
from tests.server.conftest import Api

RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)

DAY = dt.date(2026, 1, 15)


def draft(person: int, terminal: int | None = None) -> ClockingDraft:
    return ClockingDraft(
        person_id=person, date=DAY, time_of_day=480, kind=ClockingKind.IN_OUT,
        terminal_id=terminal,
    )  # fmt: skip


def copy_row(engine: Engine, table: sa.Table, tenant_id: int, source: int, new_id: int) -> None:
    """Another process adds a record (a versioned write, as every reference write is)."""
    with write_transaction(engine, tenant_id) as tx:
        row = tx.connection.execute(
            sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == source)
        ).one()
        values = {**row._asdict(), "id": new_id, "change_version": tx.next_change_version()}
        if "badge_number" in values:
            values["badge_number"] = f"B{new_id}"  # unique per tenant
        tx.connection.execute(table.insert().values(values))


def test_a_new_person_and_a_removed_terminal_are_seen_at_once(
    engine: Engine, database_url: str
) -> None:
    tenant_id = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=3, days=2, seed=1, until=dt.date(2026, 1, 10))
    backend = ConnectorBackend(engine)
    backend.create_clocking(tenant_id, draft(1))  # the facts are cached now
    with read_transaction(engine) as connection:
        cached = reference_facts(connection, tenant_id)
    with read_transaction(engine) as connection:
        assert reference_facts(connection, tenant_id) is cached  # unchanged: no reload
    with pytest.raises(BadRequest) as refused:
        backend.create_clocking(tenant_id, draft(99))
    assert refused.value.reasons == ["person.id: 99 does not exist"]

    other = create_engine(database_url)  # another worker's engine, its own cache
    try:
        copy_row(other, tables.people, tenant_id, 1, 99)
        removed, kept = max(cached.terminals) + 1, max(cached.terminals) + 2
        copy_row(other, tables.terminals, tenant_id, min(cached.terminals), removed)
        backend.create_clocking(tenant_id, draft(99))  # seen by this worker's next write
        copy_row(other, tables.terminals, tenant_id, min(cached.terminals), kept)
        backend.create_clocking(tenant_id, draft(1, removed))  # cached with both terminals
        remove_terminal(other, tenant_id, removed)  # not the newest: only its departure tells
    finally:
        other.dispose()
    with pytest.raises(BadRequest) as refused:
        backend.create_clocking(tenant_id, draft(1, removed))
    assert refused.value.reasons == [f"terminal.id: {removed} does not exist"]


def remove_terminal(engine: Engine, tenant_id: int, terminal: int) -> None:
    """Remove a terminal as a restore does (``snapshots/_apply.py``): a removal
    departure at a new change version, then the row (and its clockings, here)."""
    with write_transaction(engine, tenant_id) as tx:
        version = tx.next_change_version()
        departure = {
            "tenant_id": tenant_id, "collection": "terminals", "record_id": terminal,
            "change_version": version, "old_date": None, "old_kind": None, "removed": True,
        }  # fmt: skip
        tx.connection.execute(tables.departures.insert().values(departure))
        c, t = tables.clockings.c, tables.terminals.c
        tx.connection.execute(
            tables.clockings.delete().where(c.tenant_id == tenant_id, c.terminal_id == terminal)
        )
        tx.connection.execute(
            tables.terminals.delete().where(t.tenant_id == tenant_id, t.id == terminal)
        )


def test_a_write_checked_against_stale_cached_facts_answers_as_a_fresh_one(
    engine: Engine, database_url: str
) -> None:
    """Issue 14, item 1 (roundtrip task): on PostgreSQL a write checks its draft
    against the cached facts and reads the signature in its row write's statement; if
    the signature moved it reloads them and checks again, and if the row write fails
    on a foreign key the cache still had (a terminal removed) it runs once more with
    fresh facts. The answers are those of a write that read the facts first; the
    counters show that the stale paths ran (SQLite reads the signature first: none)."""
    tenant_id = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=3, days=2, seed=1, until=dt.date(2026, 1, 10))
    backend = ConnectorBackend(engine)
    backend.create_clocking(tenant_id, draft(1))  # the facts are cached now
    with read_transaction(engine) as connection:
        terminals = reference_facts(connection, tenant_id).terminals
    removed = max(terminals) + 1
    postgresql = engine.dialect.name == "postgresql"
    before = (STALE.reloaded, STALE.redone)

    other = create_engine(database_url)  # another worker's engine, its own cache
    try:
        copy_row(other, tables.people, tenant_id, 1, 98)
        created = backend.create_clocking(tenant_id, draft(98))  # not in the cache: 201
        assert created["person"]["id"] == 98
        copy_row(other, tables.terminals, tenant_id, min(terminals), removed)
        backend.create_clocking(tenant_id, draft(1))  # fits the cache, whose signature moved
        assert (STALE.reloaded, STALE.redone) == (before[0] + postgresql, before[1])
        assert backend.create_clocking(tenant_id, draft(1, removed))["terminal"]["id"] == removed
        remove_terminal(other, tenant_id, removed)  # the cache still has it
        with pytest.raises(BadRequest) as refused:
            backend.create_clocking(tenant_id, draft(1, removed))
        assert refused.value.reasons == [f"terminal.id: {removed} does not exist"]
        assert (STALE.reloaded, STALE.redone) == (before[0] + postgresql, before[1] + postgresql)
        copy_row(other, tables.terminals, tenant_id, min(terminals), removed)  # back again
        edited = backend.update_clocking(tenant_id, created["id"], draft(98), None)
        assert edited["person"]["id"] == 98  # fits the cache, whose signature moved
        assert backend.create_clocking(tenant_id, draft(1, removed))["terminal"]["id"] == removed
        copy_row(other, tables.people, tenant_id, 1, 97)
        backend.delete_clocking(tenant_id, created["id"], None)  # and the delete's
    finally:
        other.dispose()
    assert (STALE.reloaded, STALE.redone) == (
        before[0] + 3 * postgresql,
        before[1] + postgresql,
    )
    with read_transaction(engine) as connection:
        status = connection.scalar(
            sa.select(tables.clockings.c.status).where(
                tables.clockings.c.tenant_id == tenant_id, tables.clockings.c.id == created["id"]
            )
        )
    assert status == "Deleted"


def test_over_http_a_stale_cache_answers_as_a_fresh_one(api: Api) -> None:
    """The same over the API (contract, "Collections and fields": every record a
    clocking points at must exist in the tenant, else 400 naming the field): the app's
    worker caches the facts, the test's engine changes them as another worker would."""
    path, headers = "/connector/protimeapi/api/v1/clockings", api.auth(*RW)

    def post(person: int, terminal: int | None = None) -> Any:
        body: dict[str, Any] = {"person": {"id": person}, "date": "2026-01-15",
                                "timeOfDayInMinutes": 480, "kind": "InOut"}  # fmt: skip
        if terminal is not None:
            body["terminal"] = {"id": terminal}
        return api.http.post(path, json=body, headers=headers)

    assert post(1).status_code == 201  # the app's worker caches the facts
    tenant_id = api.tenant_id
    with read_transaction(api.engine) as connection:
        terminals = reference_facts(connection, tenant_id).terminals
    removed = max(terminals) + 1
    before = (STALE.reloaded, STALE.redone)
    postgresql = api.engine.dialect.name == "postgresql"
    copy_row(api.engine, tables.people, tenant_id, 1, 99)
    copy_row(api.engine, tables.terminals, tenant_id, min(terminals), removed)
    assert post(1).status_code == 201  # fits the cache; the signature moved
    assert post(99, removed).status_code == 201  # the reloaded facts have both
    remove_terminal(api.engine, tenant_id, removed)
    refused = post(1, removed)
    assert refused.status_code == 400
    assert refused.json()["error"]["reasons"] == [f"terminal.id: {removed} does not exist"]
    assert (STALE.reloaded, STALE.redone) == (before[0] + postgresql, before[1] + postgresql)
