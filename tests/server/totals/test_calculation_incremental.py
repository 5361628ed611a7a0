"""Incremental totals equal totals recalculated from scratch, after any clocking writes.

Issue 4: "recalculating any person-day from scratch equals the incremental result
after any sequence of clocking writes". Hypothesis drives creates, updates (moving
clockings between people and days, changing kinds and times), soft deletes and hard
deletes through the backend, on a few person-days so that writes collide; then every
stored total is compared with the domain's calculation over the stored clockings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from chronodelta.demo import generate_reference_data
from chronodelta.domain import (
    ActivityLevel,
    ClockingDraft,
    ClockingKind,
    ClockingStatus,
    activity_durations,
    paid_presence,
)
from chronodelta.server import ConnectorBackend, create_tenant, recalculate_tenant, seed_tenant
from chronodelta.server.totals._calculation import (
    duration_values,
    load_counter_links,
    load_day_clockings,
    load_shift_windows,
)
from chronodelta.storage import tables

DAYS = (dt.date(2026, 1, 12), dt.date(2026, 1, 13))
PEOPLE = (1, 2)
TIMES = st.one_of(
    st.sampled_from([-30, 470, 480, 600, 720, 750, 990, 1000, 1330, 1790, 1800]),
    st.integers(-1440, 2880),
)
# The demo activity tree's (seed 1) first project and its first task, by GUID (seed 003).
PROJECT, TASK = generate_reference_data(people=0, seed=1, today=DAYS[0]).activity_definitions[:2]
LEVEL_PATHS = (
    (ActivityLevel(1, PROJECT.id), ActivityLevel(2, TASK.id)),
    (ActivityLevel(1, PROJECT.id),),
)


@st.composite
def drafts(draw: st.DrawFn) -> ClockingDraft:
    kind = draw(st.sampled_from(list(ClockingKind)))
    return ClockingDraft(
        person_id=draw(st.sampled_from(PEOPLE)),
        date=draw(st.sampled_from(DAYS)),
        time_of_day=draw(TIMES),
        kind=kind,
        reason_id=draw(st.sampled_from([1, 2, 4])) if kind == ClockingKind.REASON else None,
        is_open=draw(st.booleans()) if kind == ClockingKind.REASON else None,
        activity_levels=draw(st.sampled_from(LEVEL_PATHS)) if kind == ClockingKind.ACTIVITY else (),
    )


OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete", "purge"]), drafts(), st.integers(0)),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def backend(engine: Engine) -> ConnectorBackend:
    create_tenant(engine, "acme")
    # A day before DAYS, so the writes below start from empty person-days.
    seed_tenant(engine, "acme", people=3, days=2, seed=1, until=dt.date(2026, 1, 9))
    return ConnectorBackend(engine)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_incremental_totals_equal_a_recalculation_from_scratch(
    backend: ConnectorBackend, operations: list[tuple[str, ClockingDraft, int]]
) -> None:
    for operation, draft, pick in operations:
        apply(backend, operation, draft, pick)
    with backend.engine.connect() as connection:
        assert stored_totals(connection) == totals_from_scratch(connection)


def test_recalculating_everything_changes_nothing(backend: ConnectorBackend) -> None:
    """After incremental writes, a full recalculation finds nothing to change: no row,
    and no change version (so open deltas see no spurious changes)."""
    for time in (480, 720, 750, 990, 1000):
        backend.create_clocking(1, ClockingDraft(1, DAYS[0], time, ClockingKind.IN_OUT))
    created = backend.create_clocking(1, ClockingDraft(2, DAYS[1], 600, ClockingKind.IN_OUT))
    backend.delete_clocking(1, created["id"], None)
    with backend.engine.connect() as connection:
        before = stored_totals(connection), versions(connection)
    recalculate_tenant(backend.engine, "acme")
    with backend.engine.connect() as connection:
        assert (stored_totals(connection), versions(connection)) == before


def apply(backend: ConnectorBackend, operation: str, draft: ClockingDraft, pick: int) -> None:
    tenant_id = 1
    existing = clocking_ids(backend.engine)
    target = existing[pick % len(existing)] if existing else None
    if operation == "create" or target is None:
        backend.create_clocking(tenant_id, draft)
    elif operation == "update":
        if active(backend.engine, target):
            backend.update_clocking(tenant_id, target, draft, None)
    elif operation == "delete":
        backend.delete_clocking(tenant_id, target, None)
    else:
        backend.purge_clocking(tenant_id, target)


def clocking_ids(engine: Engine) -> list[int]:
    c = tables.clockings.c
    with engine.connect() as connection:
        return list(
            connection.scalars(
                sa.select(c.id).where(c.tenant_id == 1, c.date.in_(DAYS)).order_by(c.id)
            )
        )


def active(engine: Engine, clocking_id: int) -> bool:
    c = tables.clockings.c
    with engine.connect() as connection:
        status = connection.scalar(sa.select(c.status).where(c.tenant_id == 1, c.id == clocking_id))
    return status != ClockingStatus.DELETED


def stored_totals(connection: sa.Connection) -> dict[str, Any]:
    p, a = tables.paid_presences.c, tables.activity_durations.c
    presences = {
        (row.person_id, row.date): (row.duration_minutes, row.shift_definition_id)
        for row in connection.execute(sa.select(tables.paid_presences).where(p.tenant_id == 1))
    }
    durations = {
        (row.person_id, row.date, row.duration_key): _duration_row(row._mapping)
        for row in connection.execute(sa.select(tables.activity_durations).where(a.tenant_id == 1))
    }
    return {"paid-presences": presences, "activity-durations": durations}


def totals_from_scratch(connection: sa.Connection) -> dict[str, Any]:
    c = tables.clockings.c
    days = [
        (row.person_id, row.date)
        for row in connection.execute(
            sa.select(c.person_id, c.date).where(c.tenant_id == 1).distinct()
        )
    ]
    facts = load_day_clockings(connection, 1, days)
    shifts = load_shift_windows(connection, 1, {person for person, _ in days})
    counters = load_counter_links(connection, 1)
    presences, durations = {}, {}
    for person, date in days:
        shift = shifts.get(person)
        total = paid_presence(facts[(person, date)], shift)
        if total is not None:
            presences[(person, date)] = (total.duration_minutes, total.shift_definition_id)
        for duration in activity_durations(facts[(person, date)], shift, counters):
            values = duration_values(person, date, duration)
            durations[(person, date, duration.key)] = _duration_row(values)
    return {"paid-presences": presences, "activity-durations": durations}


def _duration_row(values: Any) -> tuple[Any, ...]:
    return tuple(
        values[name]
        for name in (
            "duration_minutes",
            "activity_levels",
            "absence_definition_id",
            "counter_definition_ids",
            "status",
            "is_authorized",
        )
    )


def versions(connection: sa.Connection) -> list[int]:
    found: list[int] = []
    for table in (tables.paid_presences, tables.activity_durations):
        found += connection.scalars(
            sa.select(table.c.change_version).where(table.c.tenant_id == 1).order_by(table.c.id)
        )
    return found
