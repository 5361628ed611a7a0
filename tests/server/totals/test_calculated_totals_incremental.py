"""The calculated-totals collection after any clocking writes equals a recalculation of
everything from the final clockings (issue 11, item 9: "a property test against a
from-scratch recalculation").

Hypothesis drives creates, updates (moving clockings between people and days, changing
kinds and times), soft deletes and hard deletes through the backend, the server's own
write path, on days around a month's end that falls inside an ISO week, after seeded
history: a write must bring its own day and every later day its running sums reach
in line, and leave the rest alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingDraft, ClockingKind, ClockingStatus
from chronodelta.server import (
    ConnectorBackend,
    bootstrap_demo,
    create_tenant,
    recalculate_tenant,
    seed_tenant,
    tenant_id,
)
from chronodelta.server.records._tracked import TRACKED
from chronodelta.storage import tables
from tests.server.totals import calculated

# Monday 26 January (seeded) to Monday 2 February 2026: the ISO week of 26 January
# runs into February, whose pay period starts on Sunday the 1st.
DAYS = tuple(dt.date(2026, 1, 26) + dt.timedelta(days=n) for n in (0, 1, 4, 6, 7))
PEOPLE = (1, 2)
TIMES = st.one_of(st.sampled_from([420, 480, 600, 720, 750, 990, 1050]), st.integers(-1440, 2880))


@st.composite
def drafts(draw: st.DrawFn) -> ClockingDraft:
    kind = draw(st.sampled_from([ClockingKind.IN_OUT] * 3 + [ClockingKind.REASON]))
    return ClockingDraft(
        person_id=draw(st.sampled_from(PEOPLE)),
        date=draw(st.sampled_from(DAYS)),
        time_of_day=draw(TIMES),
        kind=kind,
        reason_id=draw(st.sampled_from([1, 4])) if kind == ClockingKind.REASON else None,
        is_open=draw(st.booleans()) if kind == ClockingKind.REASON else None,
    )


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete", "purge"]), drafts(), st.integers(0)),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def backend(engine: Engine) -> ConnectorBackend:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=12, seed=1, until=dt.date(2026, 1, 26))
    return ConnectorBackend(engine)


def apply(backend: ConnectorBackend, operation: str, draft: ClockingDraft, pick: int) -> None:
    """One write; updates and deletes pick among the clockings of DAYS (seeded ones
    of Monday 26 January included)."""
    c = tables.clockings.c
    with backend.engine.connect() as connection:
        rows = connection.execute(
            sa.select(c.id, c.status).where(c.tenant_id == 1, c.date.in_(DAYS)).order_by(c.id)
        ).all()
    if operation == "create" or not rows:
        backend.create_clocking(1, draft)
        return
    target = rows[pick % len(rows)]
    if operation == "update" and target.status != ClockingStatus.DELETED:
        backend.update_clocking(1, target.id, draft, None)
    elif operation == "delete":
        backend.delete_clocking(1, target.id, None)
    elif operation == "purge":
        backend.purge_clocking(1, target.id)


def stored(connection: sa.Connection, tenant_id: int = 1) -> dict[Any, Any]:
    """The tenant's stored records, as ``calculated.without_identity`` has them."""
    tracked = TRACKED["calculated-totals"]
    rows = connection.execute(
        sa.select(*tracked.columns).where(tracked.table.c.tenant_id == tenant_id)
    ).all()
    records = [tracked.to_wire(row) for row in rows]
    for record in records:
        record["date"] = record["date"].isoformat()
    return calculated.without_identity(records)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_calculated_totals_equal_a_recalculation_from_scratch(
    backend: ConnectorBackend, operations: list[tuple[str, ClockingDraft, int]]
) -> None:
    for operation, draft, pick in operations:
        apply(backend, operation, draft, pick)
    with backend.engine.connect() as connection:
        assert stored(connection) == calculated.from_database(connection, 1)


def versions(connection: sa.Connection) -> list[tuple[int, int]]:
    t = tables.calculated_totals.c
    query = sa.select(t.id, t.change_version).where(t.tenant_id == 1).order_by(t.id)
    return [(row.id, row.change_version) for row in connection.execute(query)]


def test_recalculating_everything_changes_nothing(backend: ConnectorBackend) -> None:
    """No record and no change version moves: open deltas see no spurious changes."""
    for time in (470, 725, 750, 1000):
        backend.create_clocking(1, ClockingDraft(1, DAYS[1], time, ClockingKind.IN_OUT))
    with backend.engine.connect() as connection:
        before = stored(connection), versions(connection)
    recalculate_tenant(backend.engine, "acme")
    with backend.engine.connect() as connection:
        assert (stored(connection), versions(connection)) == before


def test_a_write_rewrites_only_the_days_its_sums_reach(backend: ConnectorBackend) -> None:
    """A clocking on Tuesday 27 January changes Tuesday and the later records of
    January and of that ISO week (through Sunday 1 February), not Monday 2 February
    nor anything before Tuesday: docs/calculation.md, "What one write rewrites"."""
    for date in DAYS[1:]:
        for time in (480, 990):
            backend.create_clocking(1, ClockingDraft(1, date, time, ClockingKind.IN_OUT))
    with backend.engine.connect() as connection:
        before = dict(_version_by_date(connection))
    backend.create_clocking(1, ClockingDraft(1, DAYS[1], 1000, ClockingKind.IN_OUT))
    backend.create_clocking(1, ClockingDraft(1, DAYS[1], 1030, ClockingKind.IN_OUT))
    with backend.engine.connect() as connection:
        after = dict(_version_by_date(connection))
    changed = sorted(date for date in after if after[date] != before.get(date))
    assert changed == [dt.date(2026, 1, 27), dt.date(2026, 1, 30), dt.date(2026, 2, 1)]


def _version_by_date(connection: sa.Connection) -> list[tuple[dt.date, int]]:
    t = tables.calculated_totals.c
    query = sa.select(t.date, t.change_version).where(t.tenant_id == 1, t.person_id == 1)
    return [(row.date, row.change_version) for row in connection.execute(query)]


def test_the_demo_tenant_has_calculated_totals_consistent_with_its_clockings(
    engine: Engine,
) -> None:
    """``make serve``'s tenant (bootstrap_demo): a record for every person-day with
    presence clockings, each equal to the recalculation from scratch."""
    client = bootstrap_demo(engine, until=dt.date(2026, 1, 20))
    assert client is not None
    owner = tenant_id(engine, "acme")
    with engine.connect() as connection:
        expected = calculated.from_database(connection, owner)
        assert len(expected) > 500 and stored(connection, owner) == expected
        flex = [record["flextimeBalanceInMinutes"] for record in expected.values()]
    assert min(flex) < 0 < max(flex)  # realistic: balances go both ways
