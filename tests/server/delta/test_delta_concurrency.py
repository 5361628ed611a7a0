"""Delta never misses a change under concurrent writers (PostgreSQL).

A transaction takes its change version and is held open while other writers commit
and a reader follows the delta. With chronodelta's mechanism (writes of a tenant
serialized on its counter row) the reader ends with exactly the server's data. The
same scenario with a plain sequence must lose the held record: that control proves
the test can see the failure it guards against.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import CLOCKINGS_FILTER, ClockingDraft, ClockingKind, compile_filter
from chronodelta.server import ConnectorBackend, create_tenant, seed_tenant
from chronodelta.server._signing import TokenSigner
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._tracker import DeltaState, DeltaTracker, Position
from chronodelta.server.records import _backend as backend_module
from chronodelta.server.records._clockings import clocking_values
from chronodelta.server.records._tracked import TRACKED
from chronodelta.storage import (
    ReadBack,
    late_write_transaction,
    read_back_row,
    tables,
    write_transaction,
)

pytestmark = pytest.mark.postgresql
FILTER = "date ge '2026-01-01'"
CRITERIA = compile_filter(FILTER, CLOCKINGS_FILTER, mode="delta", today=dt.date(2026, 6, 1))
TRACKED_CLOCKINGS = TRACKED["clockings"]


# ---- the broken alternative: a plain sequence, no lock ---------------------------------


@dataclass
class PlainSequenceTransaction:
    connection: sa.Connection
    tenant_id: int
    highest: int = 0

    def next_change_version(self, table: sa.Table | None = None) -> int:
        value = int(self.connection.scalar(sa.text("SELECT nextval('plain_versions')")) or 0)
        self.highest = max(self.highest, value)
        return value

    def allocate_ids(self, collection: str, count: int = 1) -> range:
        first = int(self.connection.scalar(sa.text("SELECT nextval('plain_ids')")) or 0)
        return range(first * 1000, first * 1000 + count)

    # The rest of a late write transaction's interface: versions are final at once.
    def insert_versioned(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        self.connection.execute(table.insert(), rows)

    def lock_versions(self) -> None:
        pass

    def final_id(self, collection: str, provisional_id: int) -> int:
        return provisional_id

    def seal(self, read_back: ReadBack | None = None) -> tuple[Any, ...] | None:
        if read_back is None:
            return None
        return read_back_row(self.connection, self.tenant_id, read_back)


@contextmanager
def plain_sequence_transaction(
    engine: Engine, tenant_id: int
) -> Iterator[PlainSequenceTransaction]:
    """What a naive implementation does: versions from a sequence, published on commit."""
    with engine.begin() as connection:
        tx = PlainSequenceTransaction(connection, tenant_id)
        yield tx
        connection.execute(
            sa.text(
                "UPDATE tenant_counters SET value = GREATEST(value, :v) "
                "WHERE tenant_id = :t AND name = 'change_version'"
            ),
            {"v": tx.highest, "t": tenant_id},
        )


# ---- an in-process delta reader --------------------------------------------------------


@dataclass
class Reader:
    tracker: DeltaTracker
    state: DeltaState
    position: Position
    copy: dict[int, dict[str, Any]]

    def follow(self) -> None:
        feed = self.tracker.changes(TRACKED_CLOCKINGS, self.state, CRITERIA, self.position)
        body = orjson.loads(b"".join(feed.chunks("")))
        for change in body["value"]:
            data = change["data"]
            if change["changeType"] == "Delete":
                self.copy.pop(data["id"], None)
            else:
                self.copy[data["id"]] = data
        reached = max(feed.high_water, self.position.known)
        self.position = Position(reached, reached)


def open_reader(engine: Engine, tenant_id: int) -> Reader:
    tracker = DeltaTracker(engine, TokenSigner(b"k" * 32), ttl_seconds=3600, overlap_seconds=0)
    principal = Principal(tenant_id, "acme", "reader", frozenset(), 0)
    state = tracker.start(
        principal, "clockings", FILTER, CRITERIA.canonical(), {}, dt.date(2026, 6, 1)
    )
    copy: dict[int, dict[str, Any]] = {}
    after = None
    while True:
        page = tracker.snapshot_page(TRACKED_CLOCKINGS, state, CRITERIA, after, 100)
        copy.update({r["id"]: r for r in page.records})
        if page.next_key is None:
            return Reader(
                tracker, state, Position(state.first_cursor, state.snapshot_version), copy
            )
        after = page.next_key


def server_state(engine: Engine, tenant_id: int) -> dict[int, str]:
    clockings = tables.clockings
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(clockings.c.id, clockings.c.change_version).where(
                clockings.c.tenant_id == tenant_id, clockings.c.date >= dt.date(2026, 1, 1)
            )
        )
        return {row.id: f"{row.change_version:020X}" for row in rows}


# ---- the scenario --------------------------------------------------------------------------

Factory = Callable[[Engine, int], AbstractContextManager[Any]]


def run_scenario(
    engine: Engine, factory: Factory, *, calculate_totals: bool = True, lock_held: bool = True
) -> tuple[dict[int, str], dict[int, str]]:
    tenant_id = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=4, days=5, seed=9, until=dt.date(2026, 1, 20))
    backend = ConnectorBackend(engine, calculate_totals=calculate_totals)
    reader = open_reader(engine, tenant_id)
    draft = ClockingDraft(
        person_id=1, date=dt.date(2026, 1, 19), time_of_day=500, kind=ClockingKind.IN_OUT
    )

    def writer(offset: int) -> None:
        for i in range(5):
            created = backend.create_clocking(
                tenant_id,
                ClockingDraft(
                    person_id=1 + offset % 3,
                    date=dt.date(2026, 1, 18),
                    time_of_day=600 + i,
                    kind=ClockingKind.IN_OUT,
                ),
            )
            backend.update_clocking(
                tenant_id,
                created["id"],
                ClockingDraft(
                    person_id=1,
                    date=dt.date(2025, 12, 31 - i),
                    time_of_day=601,
                    kind=ClockingKind.IN_OUT,
                ),
                None,
            )  # moves it out of the delta's filter
            backend.create_clocking(tenant_id, draft)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    with factory(engine, tenant_id) as held:
        version = held.next_change_version(tables.clockings)
        (held_id,) = held.allocate_ids("clockings")
        held.connection.execute(
            tables.clockings.insert().values(clocking_values(draft, tenant_id, held_id, version))
        )
        if lock_held:
            held.lock_versions()  # a late write held while it stamps (or the control's no-op)
        for thread in threads:
            thread.start()
        held_pid = int(held.connection.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
        wait_until_writers_finish_or_wait_on(engine, threads, held_pid)
        reader.follow()  # while the held transaction is still open
    for thread in threads:
        thread.join()
    reader.follow()
    reader.follow()
    copy = {i: r["changeVersion"] for i, r in reader.copy.items()}
    return copy, server_state(engine, tenant_id)


def wait_until_writers_finish_or_wait_on(
    engine: Engine, threads: list[threading.Thread], held_pid: int
) -> None:
    """Until every writer is done, or one waits on the held transaction (the mechanism).

    Only a wait on the held transaction counts: writers of the control briefly queue
    behind each other on the counter row, and returning then would let the reader run
    before any writer committed, so the control would not lose the held record.
    """
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND :held = ANY(pg_blocking_pids(pid))"
    ).bindparams(held=held_pid)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not any(t.is_alive() for t in threads):
            return
        with engine.connect() as connection:
            if connection.scalar(waiting):
                return
    raise AssertionError("writers neither finished nor waited")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_reader_ends_with_exactly_the_servers_data(engine: Engine) -> None:
    copy, server = run_scenario(engine, write_transaction)
    assert copy == server


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("lock_held", [True, False], ids=["stamping", "provisional"])
def test_a_late_write_held_open_loses_nothing(engine: Engine, lock_held: bool) -> None:
    """Issue 14, item 1: the held write takes its version lock last. Held while it
    stamps, it keeps the writers (and so the reader) waiting; held before, with its
    provisional rows, it lets them pass and later commits above every one of them."""
    copy, server = run_scenario(engine, late_write_transaction, lock_held=lock_held)
    assert copy == server


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_plain_sequence_loses_the_held_change(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE SEQUENCE plain_versions START 1000000"))
        connection.execute(sa.text("CREATE SEQUENCE plain_ids START 1000"))
    monkeypatch.setattr(backend_module, "late_write_transaction", plain_sequence_transaction)
    # Without the tenant lock, concurrent recalculations of one person-day would
    # collide on its totals; the control is about change versions, so it skips them.
    copy, server = run_scenario(engine, plain_sequence_transaction, calculate_totals=False)
    missed = set(server) - set(copy)
    assert missed, "the control must miss the record whose version committed late"
