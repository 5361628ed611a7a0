"""What a clocking write needs of a tenant's reference data, cached per process.

Issue 14, item 1: "Cut the statements a write runs (cache per tenant what rarely
changes, with invalidation)". A clocking write checks that its person, terminal,
reason and activity definitions exist (``_clockings.check_clocking_references``) and
its recalculation reads the person's shift and the counter links (``totals``): five
queries or more, on data that changes only when an operator seeds or edits reference
data. Each write now runs one query instead, the *signature*: for each reference table
the facts come from, the tenant's highest change version among its rows and among its
removal departures. Every write to those rows takes a new change version (a reference
write is versioned like any change), and a removal records a departure with one (a
restore, ``snapshots/_apply.py``, is the only code that removes them), so an unchanged
signature means unchanged facts, in every worker, with no message between them. Each
part is one seek on a ``(tenant, ..., change_version)`` index, whatever the size of the
tenant: the row counts this signature used to include scanned every person on every
write. The signature is read in the write's own transaction, so the facts are those of
its snapshot.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import CounterLinks, ShiftWindow
from chronodelta.storage import tables

_SOURCES = (
    tables.people,
    tables.terminals,
    tables.shift_definitions,
    tables.absence_definitions,
    tables.activity_definitions,
)
# Departures name their collection, as the API does.
_COLLECTION = {table.name: name for name, table in tables.COLLECTION_TABLES.items()}


def _signature_query() -> sa.Select[Any]:
    tenant: sa.BindParameter[int] = sa.bindparam("tenant")
    departures = tables.departures
    columns = []
    for table in _SOURCES:
        columns.append(
            sa.select(sa.func.max(table.c.change_version)).where(table.c.tenant_id == tenant)
        )
        removed = sa.select(sa.func.max(departures.c.change_version)).where(
            departures.c.tenant_id == tenant,
            departures.c.collection == _COLLECTION[table.name],
        )
        columns.append(removed)
    return sa.select(*(c.scalar_subquery() for c in columns))


_SIGNATURE = _signature_query()  # built once: every write runs it
SIGNATURE_COLUMNS = 2 * len(_SOURCES)


def signature_query() -> sa.Select[Any]:
    """The signature's query (bind parameter ``tenant``), for a write that reads it
    in a statement it sends anyway (``storage.WriteTransaction.lock_people``)."""
    return _SIGNATURE


@dataclass(frozen=True)
class AbsenceFacts:
    is_reason_for_clocking: bool
    is_enabled: bool


@dataclass(frozen=True)
class ActivityFacts:
    guid: str
    level: int
    parent_guid: str | None
    active_from: dt.date | None
    active_until: dt.date | None


@dataclass(frozen=True)
class ReferenceFacts:
    """A tenant's reference data as clocking writes use it, at one signature."""

    signature: tuple[int, ...]
    shifts: dict[int, ShiftWindow | None]  # every person, and their shift (if any)
    terminals: frozenset[int]
    absences: dict[int, AbsenceFacts]
    activities: dict[str, ActivityFacts]  # by GUID
    counters: CounterLinks


class _Cache:
    """The facts by engine and tenant; the newest signature wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[Engine, dict[int, ReferenceFacts]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, engine: Engine, tenant_id: int) -> ReferenceFacts | None:
        with self._lock:
            return self._by_engine.get(engine, {}).get(tenant_id)

    def put(self, engine: Engine, facts: ReferenceFacts, tenant_id: int) -> None:
        with self._lock:
            self._by_engine.setdefault(engine, {})[tenant_id] = facts


_cache = _Cache()


@dataclass
class StaleFacts:
    """How often a write found the cached facts it had checked against stale
    (issue 14, item 1; read by tests): ``reloaded``, the signature its row write
    read had moved (the facts were reloaded and the draft checked again in the same
    transaction); ``redone``, its row write failed on a reference the cache still
    had, and the whole write ran once more with fresh facts."""

    reloaded: int = 0
    redone: int = 0

    def count(self, *, redone: bool) -> None:
        with _counts_lock:
            if redone:
                self.redone += 1
            else:
                self.reloaded += 1


_counts_lock = threading.Lock()
STALE = StaleFacts()


def cached_facts(engine: Engine, tenant_id: int) -> ReferenceFacts | None:
    """The facts this process last read for the tenant, unchecked (None: none yet)."""
    return _cache.get(engine, tenant_id)


def reference_facts(connection: sa.Connection, tenant_id: int) -> ReferenceFacts:
    """The tenant's facts as of this transaction: cached unless the signature moved."""
    row = connection.execute(_SIGNATURE, {"tenant": tenant_id}).one()
    return facts_at(connection, tenant_id, tuple(row))


def facts_at(connection: sa.Connection, tenant_id: int, row: tuple[Any, ...]) -> ReferenceFacts:
    """The facts at the signature ``row`` (``signature_query``'s columns) that this
    transaction read: the cached ones if it is theirs, else read now and cached."""
    signature = tuple(int(value or 0) for value in row)
    cached = _cache.get(connection.engine, tenant_id)
    if cached is not None and cached.signature == signature:
        return cached
    facts = _load(connection, tenant_id, signature)
    _cache.put(connection.engine, facts, tenant_id)
    return facts


def _load(connection: sa.Connection, tenant_id: int, signature: tuple[int, ...]) -> ReferenceFacts:
    person, shift = tables.people, tables.shift_definitions
    shift_rows = connection.execute(
        sa.select(person.c.id, shift.c.id.label("shift_id"), shift.c.start_minutes,
                  shift.c.end_minutes, shift.c.break_minutes)
        .outerjoin(shift, sa.and_(shift.c.tenant_id == person.c.tenant_id,
                                  shift.c.id == person.c.shift_definition_id))
        .where(person.c.tenant_id == tenant_id)
    )  # fmt: skip
    shifts = {
        row.id: None
        if row.shift_id is None
        else ShiftWindow(row.shift_id, row.start_minutes, row.end_minutes, row.break_minutes)
        for row in shift_rows
    }
    terminal = tables.terminals
    terminals = frozenset(
        connection.scalars(sa.select(terminal.c.id).where(terminal.c.tenant_id == tenant_id))
    )
    absence, activity = tables.absence_definitions, tables.activity_definitions
    absence_rows = connection.execute(
        sa.select(absence.c.id, absence.c.is_reason_for_clocking, absence.c.is_enabled,
                  absence.c.counter_definition_ids).where(absence.c.tenant_id == tenant_id)
    ).all()  # fmt: skip
    activity_rows = connection.execute(
        sa.select(activity.c.guid, activity.c.level, activity.c.parent_guid,
                  activity.c.active_from, activity.c.active_until,
                  activity.c.counter_definition_ids).where(activity.c.tenant_id == tenant_id)
    ).all()  # fmt: skip
    return ReferenceFacts(
        signature=signature,
        shifts=shifts,
        terminals=terminals,
        absences={
            r.id: AbsenceFacts(bool(r.is_reason_for_clocking), bool(r.is_enabled))
            for r in absence_rows
        },
        activities={
            r.guid: ActivityFacts(r.guid, r.level, r.parent_guid, r.active_from, r.active_until)
            for r in activity_rows
        },
        counters=CounterLinks(
            activities=_links((r.guid, r.counter_definition_ids) for r in activity_rows),
            absences=_links((r.id, r.counter_definition_ids) for r in absence_rows),
        ),
    )


def _links(pairs: Any) -> dict[Any, tuple[int, ...]]:
    """The counter links stored as JSON text (null when none)."""
    return {key: tuple(orjson.loads(ids)) for key, ids in pairs if ids is not None}
