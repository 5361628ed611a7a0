"""Keeping paid presences, activity durations and calculated totals in step with the
clockings.

Every clocking write calls ``recalculate`` with the person-days it touched (an update
touches the old and the new person and date), inside its own write transaction. The
person-day is recalculated from scratch from the clockings in the database (the rules
are the domain's, ``domain/_calculation.py``, and ``docs/calculation.md``) and only
the totals that differ are written, each with a new change version. A total that no
longer follows is deleted, with a departure row, so that open deltas report a Delete.
Because all of it commits with the write or not at all, no reader ever sees totals
out of step with the clockings (issue 4: "atomic with the write"). The calculated
totals' running sums also reach later days of the person (``_calculated.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from chronodelta.domain import (
    ActivityDurationTotal,
    ClockingKind,
    ClockingStatus,
    CounterLinks,
    DayClocking,
    PaidPresenceTotal,
    ShiftWindow,
    activity_durations,
    day_figures,
    paid_presence,
)
from chronodelta.server.records._reference_facts import ReferenceFacts
from chronodelta.server.records._serialize import dump_activity_levels, parse_activity_levels
from chronodelta.server.records._tracked import departure_row
from chronodelta.server.totals._calculated import calculated_changes
from chronodelta.server.totals._day_read import CLOCKING_COLUMNS, read_days
from chronodelta.storage import RowWrite, WriteTransaction, tables

PersonDay = tuple[int, dt.date]
BATCH = 400  # person-days per query: well under SQLite's 32766 bound parameters

clockings = tables.clockings
paid_presences = tables.paid_presences
activity_durations_table = tables.activity_durations
COLLECTION_OF = {table: name for name, table in tables.TOTAL_TABLES.items()}


def recalculate(
    tx: WriteTransaction,
    person_days: Iterable[PersonDay],
    facts: ReferenceFacts | None = None,
    along: RowWrite | None = None,
) -> None:
    """Bring the totals of these person-days in line with their clockings.

    ``facts``: the tenant's reference data a clocking write already checked against
    (cached, ``records/_reference_facts.py``); without them (an operator's bulk
    recalculation) shifts and counter links are read afresh. ``along``: the write's
    clocking row, written first (with the people's lock, in one round trip)."""
    ordered = sorted(set(person_days))
    if not ordered:
        if along is not None:
            along.run(tx.connection)
        return
    # Before anything of theirs is read: a concurrent writer of the same person waits
    # until this one commits, and then reads its clocking (issue 14, item 1).
    tx.lock_people((person for person, _ in ordered), along)
    connection, tenant_id = tx.connection, tx.tenant_id
    counters = load_counter_links(connection, tenant_id) if facts is None else facts.counters
    # One batch (every clocking write): nothing reads its totals back, so they are
    # written with the write's last statement (``insert_versioned``); a bulk
    # recalculation's later batches read the running sums an earlier one wrote.
    defer = len(ordered) <= BATCH
    for start in range(0, len(ordered), BATCH):
        _recalculate_batch(tx, ordered[start : start + BATCH], counters, facts, defer)


def _recalculate_batch(
    tx: WriteTransaction,
    days: list[PersonDay],
    counters: CounterLinks,
    references: ReferenceFacts | None,
    defer: bool,
) -> None:
    connection, tenant_id = tx.connection, tx.tenant_id
    read = read_days(connection, tenant_id, days)  # one statement (_day_read.py)
    facts = {day: [day_clocking(row) for row in rows] for day, rows in read.clockings.items()}
    people = {person for person, _ in days}
    if references is None:
        shifts = load_shift_windows(connection, tenant_id, people)
    else:
        shifts = {p: s for p in people if (s := references.shifts.get(p)) is not None}
    writer = _TotalsWriter(tx, defer)
    existing_presences = _by_day(read.totals[paid_presences])
    existing_durations = _by_day(read.totals[activity_durations_table])
    figures = {}
    for person_id, date in days:
        day_clockings, shift = facts.get((person_id, date), []), shifts.get(person_id)
        figures[(person_id, date)] = day_figures(date, day_clockings, shift)
        writer.put_presence(
            person_id,
            date,
            paid_presence(day_clockings, shift),
            existing_presences.get((person_id, date), {}).get(""),
        )
        writer.put_durations(
            person_id,
            date,
            activity_durations(day_clockings, shift, counters),
            existing_durations.get((person_id, date), {}),
        )
    stored = read.totals[tables.calculated_totals]
    for values, current in calculated_changes(connection, tenant_id, figures, stored):
        writer.put(tables.calculated_totals, values, current)
    writer.flush()


# ---- reading ---------------------------------------------------------------------------


# The statements are built once: a write runs them every time, and building a
# statement (and its cache key) costs more than SQLite takes to run it.
_c = clockings.c
_DAY_CLOCKINGS = sa.select(*CLOCKING_COLUMNS).where(
    _c.tenant_id == sa.bindparam("tenant"),
    sa.tuple_(_c.person_id, _c.date).in_(sa.bindparam("days", expanding=True)),
)
_person, _shift = tables.people, tables.shift_definitions
_SHIFT_WINDOWS = (
    sa.select(_person.c.id, _shift.c.id.label("shift_id"), _shift.c.start_minutes,
              _shift.c.end_minutes, _shift.c.break_minutes)
    .join(_shift, sa.and_(_shift.c.tenant_id == _person.c.tenant_id,
                          _shift.c.id == _person.c.shift_definition_id))
    .where(_person.c.tenant_id == sa.bindparam("tenant"),
           _person.c.id.in_(sa.bindparam("people", expanding=True)))
)  # fmt: skip


def _counter_links_query(table: sa.Table, key: str) -> sa.Select[Any]:
    return sa.select(table.c[key], table.c.counter_definition_ids).where(
        table.c.tenant_id == sa.bindparam("tenant"), table.c.counter_definition_ids.is_not(None)
    )


# Activity levels name their definitions by GUID (seed 003), absences by id.
_ACTIVITY_COUNTERS = _counter_links_query(tables.activity_definitions, "guid")
_ABSENCE_COUNTERS = _counter_links_query(tables.absence_definitions, "id")


def load_day_clockings(
    connection: sa.Connection, tenant_id: int, days: Sequence[PersonDay]
) -> dict[PersonDay, list[DayClocking]]:
    """The clockings of these person-days (deleted ones too: the rules skip them)."""
    found: dict[PersonDay, list[DayClocking]] = {}
    for row in connection.execute(_DAY_CLOCKINGS, {"tenant": tenant_id, "days": list(days)}):
        found.setdefault((row.person_id, row.date), []).append(day_clocking(row))
    return found


def day_clocking(row: Sequence[Any]) -> DayClocking:
    """A clocking as the rules see it, from its columns in ``_DAY_CLOCKINGS`` order."""
    _person, _date, record_id, time, kind, status, generated, original, reason, is_open, levels = (
        row
    )
    return DayClocking(
        id=record_id,
        time=time,
        kind=ClockingKind(kind),
        status=ClockingStatus(status),
        is_generated=bool(generated),
        is_edited=original is not None,
        reason_id=reason,
        is_open=is_open,
        activity_levels=parse_activity_levels(levels),
    )


def _by_day(rows: Iterable[Any]) -> dict[PersonDay, dict[str, Any]]:
    """Current totals by person-day and key ("" for paid presences)."""
    found: dict[PersonDay, dict[str, Any]] = {}
    for row in rows:
        key = getattr(row, "duration_key", "")
        found.setdefault((row.person_id, row.date), {})[key] = row
    return found


def load_shift_windows(
    connection: sa.Connection, tenant_id: int, people: set[int]
) -> dict[int, ShiftWindow]:
    rows = connection.execute(_SHIFT_WINDOWS, {"tenant": tenant_id, "people": sorted(people)})
    return {
        row.id: ShiftWindow(row.shift_id, row.start_minutes, row.end_minutes, row.break_minutes)
        for row in rows
    }


def load_counter_links(connection: sa.Connection, tenant_id: int) -> CounterLinks:
    def links(query: sa.Select[Any]) -> dict[Any, tuple[int, ...]]:
        rows = connection.execute(query, {"tenant": tenant_id})
        return {row[0]: tuple(orjson.loads(row[1])) for row in rows}

    return CounterLinks(activities=links(_ACTIVITY_COUNTERS), absences=links(_ABSENCE_COUNTERS))


# ---- writing ---------------------------------------------------------------------------


@dataclass
class _TotalsWriter:
    """Collects the inserts, updates and deletes of a batch and writes them at once."""

    tx: WriteTransaction
    defer: bool = False  # written by the transaction when final (insert_versioned)

    def __post_init__(self) -> None:
        self.inserts: dict[sa.Table, list[dict[str, Any]]] = {}
        self.updates: dict[sa.Table, list[dict[str, Any]]] = {}
        self.deletes: dict[sa.Table, list[Any]] = {}

    def put_presence(
        self,
        person_id: int,
        date: dt.date,
        total: PaidPresenceTotal | None,
        current: Any,
    ) -> None:
        values = None
        if total is not None:
            values = {
                "person_id": person_id,
                "date": date,
                "duration_minutes": total.duration_minutes,
                "shift_definition_id": total.shift_definition_id,
            }
        self.put(paid_presences, values, current)

    def put_durations(
        self,
        person_id: int,
        date: dt.date,
        totals: Sequence[ActivityDurationTotal],
        current: dict[str, Any],
    ) -> None:
        wanted = {total.key: total for total in totals}
        for key, total in wanted.items():
            self.put(
                activity_durations_table, duration_values(person_id, date, total), current.get(key)
            )
        for key, row in current.items():
            if key not in wanted:
                self.put(activity_durations_table, None, row)

    def put(self, table: sa.Table, values: dict[str, Any] | None, current: Any) -> None:
        """Insert, update (only if a value differs) or delete one total of ``table``."""
        if values is None:
            if current is not None:
                self.deletes.setdefault(table, []).append(current)
            return
        if current is None:
            (new_id,) = self.tx.allocate_ids(COLLECTION_OF[table])
            row = {**values, "tenant_id": self.tx.tenant_id, "id": new_id}
            self.inserts.setdefault(table, []).append(self._versioned(table, row))
        elif any(getattr(current, name) != value for name, value in values.items()):
            row = {**values, "tenant_id": self.tx.tenant_id, "id": current.id}
            self.updates.setdefault(table, []).append(self._versioned(table, row))

    def _versioned(self, table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
        version = self.tx.next_change_version(None if self.defer else table)
        return {**row, "change_version": version}

    def flush(self) -> None:
        connection = self.tx.connection
        for table, rows in self.inserts.items():
            if self.defer:
                self.tx.insert_versioned(table, rows)
            else:
                connection.execute(table.insert(), rows)
        for table, rows in self.updates.items():
            if self.defer:
                self.tx.update_versioned(table, rows)
            else:
                connection.execute(_update_by_key(table, rows[0]), [_bind(r) for r in rows])
        departures = []
        for table, removed in self.deletes.items():
            departures += [
                departure_row(
                    COLLECTION_OF[table], row, self.tx.next_change_version(), removed=True
                )
                for row in removed
            ]
            ids = [row.id for row in removed]
            if self.defer:  # with the write's last statement, as its inserts
                self.tx.delete_by_ids(table, ids)
            else:
                connection.execute(_DELETE_BY_IDS[table], {"tenant": self.tx.tenant_id, "ids": ids})
        if departures:  # one insert for every table's
            self.tx.insert_versioned(tables.departures, departures)


def duration_values(person_id: int, date: dt.date, total: ActivityDurationTotal) -> dict[str, Any]:
    counters = total.counter_definition_ids
    return {
        "person_id": person_id,
        "date": date,
        "duration_key": total.key,
        "duration_minutes": total.duration_minutes,
        "activity_levels": dump_activity_levels(total.activity_levels),
        "absence_definition_id": total.absence_definition_id,
        "counter_definition_ids": orjson.dumps(list(counters)).decode() if counters else None,
        "status": total.status.value,
        "is_authorized": total.is_authorized,
    }


def _update_by_key(table: sa.Table, sample: dict[str, Any]) -> sa.Update:
    """An executemany UPDATE keyed by (tenant_id, id); other keys of ``sample`` are set
    (built once per table and set of columns)."""
    columns = tuple(name for name in sample if name not in ("tenant_id", "id"))
    statement = _UPDATES.get((table.name, columns))
    if statement is None:
        statement = (
            table.update()
            .where(
                table.c.tenant_id == sa.bindparam("k_tenant"), table.c.id == sa.bindparam("k_id")
            )
            .values({name: sa.bindparam(f"v_{name}") for name in columns})
        )
        _UPDATES[(table.name, columns)] = statement
    return statement


_UPDATES: dict[tuple[str, tuple[str, ...]], sa.Update] = {}
_DELETE_BY_IDS = {
    table: table.delete().where(
        table.c.tenant_id == sa.bindparam("tenant"),
        table.c.id.in_(sa.bindparam("ids", expanding=True)),
    )
    for table in tables.TOTAL_TABLES.values()
}


def _bind(row: dict[str, Any]) -> dict[str, Any]:
    bound = {f"v_{name}": value for name, value in row.items() if name not in ("tenant_id", "id")}
    return {**bound, "k_tenant": row["tenant_id"], "k_id": row["id"]}


def person_days_of(rows: Iterable[Any]) -> Iterator[PersonDay]:
    """The person-days of clocking rows or drafts (anything with person_id and date)."""
    for row in rows:
        yield (row.person_id, row.date)
