"""Keeping the calculated-totals collection in step with the clockings.

A write recalculates the figures of the person-days it touched from their clockings
(``_calculation.py`` loads them). Their running sums, and those of the later days of
the same ISO week and pay period (``domain.affected_until``), are then recomputed from
the figures stored on the neighbouring days' records: a day's figures depend on its
own clockings only, so the stored ones are right for every day the write did not
touch, and no other day's clockings need reading. Only records that differ are
written, each with a new change version, so a write on an earlier day shows up in open
deltas as an InsertOrUpdate of every later record whose balance or sums it changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import (
    CalculatedTotal,
    DayFigures,
    affected_until,
    history_start,
    running_totals,
)
from chronodelta.storage import tables

PersonDay = tuple[int, dt.date]
Change = tuple[dict[str, Any] | None, sa.Row[Any] | None]  # (wanted values, current row)

calculated_totals = tables.calculated_totals
_t = calculated_totals.c
_STORED = sa.select(calculated_totals).where(
    _t.tenant_id == sa.bindparam("tenant"),
    _t.person_id.in_(sa.bindparam("people", expanding=True)),
    _t.date >= sa.bindparam("first"),
    _t.date <= sa.bindparam("last"),
)


def calculated_changes(
    connection: sa.Connection,
    tenant_id: int,
    fresh: Mapping[PersonDay, DayFigures | None],
    rows: Iterable[Any] | None = None,
) -> Iterator[Change]:
    """What to write for the person-days with ``fresh`` figures (None: no record) and
    the later days their running sums reach. ``rows``: the stored records of the span
    ``_day_read.span_of(fresh)`` if the caller read them already."""
    if not fresh:
        return
    touched: dict[int, dict[dt.date, DayFigures | None]] = {}
    for (person_id, date), figures in fresh.items():
        touched.setdefault(person_id, {})[date] = figures
    if rows is None:
        stored = _stored_rows(connection, tenant_id, touched, fresh)
    else:
        stored = {}
        for row in rows:
            stored.setdefault(row.person_id, {})[row.date] = row
    for person_id, days in touched.items():
        yield from _person_changes(person_id, days, stored.get(person_id, {}))


def _stored_rows(
    connection: sa.Connection,
    tenant_id: int,
    touched: Mapping[int, Any],
    fresh: Mapping[PersonDay, Any],
) -> dict[int, dict[dt.date, sa.Row[Any]]]:
    """The stored records from the earliest history any touched day needs to the
    latest day any of them reaches (one query; a wider span is harmless)."""
    bound = {
        "tenant": tenant_id,
        "people": sorted(touched),
        "first": min(history_start(date) for _, date in fresh),
        "last": max(affected_until(date) for _, date in fresh),
    }
    found: dict[int, dict[dt.date, sa.Row[Any]]] = {}
    for row in connection.execute(_STORED, bound):
        found.setdefault(row.person_id, {})[row.date] = row
    return found


def _person_changes(
    person_id: int,
    touched: Mapping[dt.date, DayFigures | None],
    stored: Mapping[dt.date, sa.Row[Any]],
) -> Iterator[Change]:
    figures = {date: figures_of(row) for date, row in stored.items()}
    for date, day in touched.items():
        if day is None:
            figures.pop(date, None)
        else:
            figures[date] = day
    totals = running_totals(figures)
    reach = _merged_reach(touched)
    for date in sorted(set(totals) | set(stored)):
        if not any(first <= date <= last for first, last in reach):
            continue
        total = totals.get(date)
        values = None if total is None else total_values(person_id, total)
        yield values, stored.get(date)


def _merged_reach(touched: Mapping[dt.date, Any]) -> list[tuple[dt.date, dt.date]]:
    """The days whose records the touched days can change, as disjoint spans."""
    spans: list[tuple[dt.date, dt.date]] = []
    for date in sorted(touched):
        last = affected_until(date)
        if spans and date <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((date, last))
    return spans


def figures_of(row: Any) -> DayFigures:
    """A stored record's own figures (anything with the table's column names)."""
    return DayFigures(
        normal_minutes=row.normal_time_minutes,
        present_minutes=row.time_present_minutes,
        calculated_presence_minutes=row.calculated_presence_minutes,
        shift_definition_id=row.shift_definition_id,
    )


def total_values(person_id: int, total: CalculatedTotal) -> dict[str, Any]:
    """The table's columns of a record (without tenant, id and version)."""
    return {
        "person_id": person_id,
        "date": total.date,
        "normal_time_minutes": total.normal_minutes,
        "time_present_minutes": total.present_minutes,
        "calculated_presence_minutes": total.calculated_presence_minutes,
        "weekly_hours_1_minutes": total.weekly_hours_1_minutes,
        "weekly_hours_2_minutes": total.weekly_hours_2_minutes,
        "weekly_hours_3_minutes": total.weekly_hours_3_minutes,
        "pay_period_hours_minutes": total.pay_period_minutes,
        "flextime_minutes": total.flextime_minutes,
        "flextime_balance_minutes": total.flextime_balance_minutes,
        "shift_definition_id": total.shift_definition_id,
    }
