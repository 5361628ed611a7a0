"""What a recalculation reads, in one statement (issue 14, item 1: "read the
person-day and its totals together").

A write's recalculation needs the person-days' clockings, their paid presences and
activity durations, and the calculated totals from the earliest history the days'
running sums need to the latest day they reach (``_calculated.py``). Four queries
were four round trips (and four statement executions in Python) on every write; here
they are the branches of one ``UNION ALL``. The branches have different columns, so
each gets its own slots in one wide row and typed NULLs in everyone else's; the first
column says which branch a row came from. The first branch's column types are the
union's, so every column is converted as its own table's would be. Built once.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import affected_until, history_start
from chronodelta.storage import tables

PersonDay = tuple[int, dt.date]

_c = tables.clockings.c
CLOCKING_COLUMNS = (
    _c.person_id, _c.date, _c.id, _c.calculated_time_of_day, _c.kind, _c.status,
    _c.is_generated, _c.original_time_of_day, _c.reason_id, _c.is_open, _c.activity_levels,
)  # fmt: skip
TOTALS = (tables.paid_presences, tables.activity_durations, tables.calculated_totals)


# Up to this many person-days (and people) a read has its own statement with one bound
# parameter each: an "expanding" IN list is rendered into the SQL again at every
# execution, which cost more Python than the query took (a write touches one or two).
_FIXED = 2


def _of_days(table: sa.Table, days: int | None) -> sa.ColumnElement[bool]:
    pair = sa.tuple_(table.c.person_id, table.c.date)
    if days is None:
        listed = pair.in_(sa.bindparam("days", expanding=True))
    else:
        listed = pair.in_(
            [
                sa.tuple_(sa.bindparam(f"p{n}", type_=sa.BigInteger),
                          sa.bindparam(f"d{n}", type_=sa.Date))
                for n in range(days)
            ]
        )  # fmt: skip
    return sa.and_(table.c.tenant_id == sa.bindparam("tenant"), listed)


def _span(table: sa.Table, people: int | None) -> sa.ColumnElement[bool]:
    if people is None:
        listed = table.c.person_id.in_(sa.bindparam("people", expanding=True))
    else:
        listed = table.c.person_id.in_(
            [sa.bindparam(f"q{n}", type_=sa.BigInteger) for n in range(people)]
        )
    return sa.and_(
        table.c.tenant_id == sa.bindparam("tenant"),
        listed,
        table.c.date >= sa.bindparam("first"),
        table.c.date <= sa.bindparam("last"),
    )


# (source table, its columns): clockings first, so that their types lead.
_PARTS: tuple[tuple[sa.Table, tuple[sa.Column[Any], ...]], ...] = (
    (tables.clockings, CLOCKING_COLUMNS),
    *((table, tuple(table.c)) for table in TOTALS),
)
_SLOTS = [(part, column) for part, (_, columns) in enumerate(_PARTS) for column in columns]
_STARTS = [sum(len(columns) for _, columns in _PARTS[:n]) + 1 for n in range(len(_PARTS))]
_ENDS = [*_STARTS[1:], len(_SLOTS) + 1]
# The totals' rows as named tuples: attributes by column name, like a Row, cheaper.
_ROW_TYPES = [namedtuple(f"{t.name}_row", [c.name for c in t.c]) for t in TOTALS]


def _branch(part: int, days: int | None, people: int | None) -> sa.Select[Any]:
    table = _PARTS[part][0]
    where = _span(table, people) if table is tables.calculated_totals else _of_days(table, days)
    selected: list[sa.ColumnElement[Any]] = [sa.literal_column(str(part), sa.Integer).label("part")]
    for slot, (owner, column) in enumerate(_SLOTS):
        value = column if owner == part else sa.cast(sa.null(), column.type)
        selected.append(value.label(f"c{slot}"))
    return sa.select(*selected).select_from(table).where(where)


def _read_statement(days: int | None, people: int | None) -> sa.CompoundSelect[Any]:
    return sa.union_all(*(_branch(part, days, people) for part in range(len(_PARTS))))


_READS = {
    (days, people): _read_statement(days, people)
    for days in range(1, _FIXED + 1)
    for people in range(1, days + 1)
}
_READ_ANY = _read_statement(None, None)


@dataclass
class DayRead:
    """The rows of one read: clocking rows (``CLOCKING_COLUMNS`` order) by person-day;
    each totals table's rows by person-day (by date, per person, for calculated totals)."""

    clockings: dict[PersonDay, list[tuple[Any, ...]]]
    totals: dict[sa.Table, list[Any]]


def span_of(days: Sequence[PersonDay]) -> dict[str, Any]:
    """The calculated totals a write of these days reads: from the earliest history
    any of them needs to the latest day any of them reaches (a wider span is harmless)."""
    return {
        "people": sorted({person for person, _ in days}),
        "first": min(history_start(date) for _, date in days),
        "last": max(affected_until(date) for _, date in days),
    }


def read_days(connection: sa.Connection, tenant_id: int, days: Sequence[PersonDay]) -> DayRead:
    """Everything the recalculation of ``days`` reads, in one round trip."""
    span = span_of(days)
    people = span.pop("people")
    bound: dict[str, Any] = {"tenant": tenant_id, **span}
    statement = _READS.get((len(days), len(people)))
    if statement is None:
        statement = _READ_ANY
        bound.update(days=list(days), people=people)
    else:
        for n, (person, date) in enumerate(days):
            bound[f"p{n}"], bound[f"d{n}"] = person, date
        bound.update({f"q{n}": person for n, person in enumerate(people)})
    read = DayRead({}, {table: [] for table in TOTALS})
    for row in connection.execute(statement, bound):
        part = row[0]
        values = tuple(row[_STARTS[part] : _ENDS[part]])
        if part == 0:
            read.clockings.setdefault((values[0], values[1]), []).append(values)
        else:
            read.totals[TOTALS[part - 1]].append(_ROW_TYPES[part - 1]._make(values))
    return read
