"""Calculated totals recalculated from scratch, for the tests to compare the server with.

From the final clockings alone: every person-day's figures, then each person's running
sums over their whole history (the server recalculates a write's reach incrementally).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import DayFigures, day_figures, running_totals
from chronodelta.server.totals._calculation import load_day_clockings, load_shift_windows
from chronodelta.storage import tables

# The wire fields of a record, without id and changeVersion (the server allocates them).
FIELDS = (
    "person",
    "date",
    "normalTimeDurationInMinutes",
    "timePresentDurationInMinutes",
    "calculatedPresenceDurationInMinutes",
    "weeklyHours1DurationInMinutes",
    "weeklyHours2DurationInMinutes",
    "weeklyHours3DurationInMinutes",
    "payPeriodHoursDurationInMinutes",
    "flextimeDurationInMinutes",
    "flextimeBalanceInMinutes",
    "shiftDefinition",
)
Key = tuple[int, str]  # person id, ISO date


def from_figures(figures: Mapping[tuple[int, dt.date], DayFigures | None]) -> dict[Key, Any]:
    """Wire records (without id and version) by person and date."""
    by_person: dict[int, dict[dt.date, DayFigures]] = {}
    for (person_id, date), day in figures.items():
        if day is not None:
            by_person.setdefault(person_id, {})[date] = day
    records = {}
    for person_id, days in by_person.items():
        for date, t in running_totals(days).items():
            record = {
                "person": {"id": person_id},
                "date": date.isoformat(),
                "normalTimeDurationInMinutes": t.normal_minutes,
                "timePresentDurationInMinutes": t.present_minutes,
                "calculatedPresenceDurationInMinutes": t.calculated_presence_minutes,
                "weeklyHours1DurationInMinutes": t.weekly_hours_1_minutes,
                "weeklyHours2DurationInMinutes": t.weekly_hours_2_minutes,
                "weeklyHours3DurationInMinutes": t.weekly_hours_3_minutes,
                "payPeriodHoursDurationInMinutes": t.pay_period_minutes,
                "flextimeDurationInMinutes": t.flextime_minutes,
                "flextimeBalanceInMinutes": t.flextime_balance_minutes,
            }
            if t.shift_definition_id is not None:
                record["shiftDefinition"] = {"id": t.shift_definition_id}
            records[(person_id, date.isoformat())] = record
    return records


def from_database(connection: sa.Connection, tenant_id: int) -> dict[Key, Any]:
    c = tables.clockings.c
    query = sa.select(c.person_id, c.date).where(c.tenant_id == tenant_id).distinct()
    days = [(row.person_id, row.date) for row in connection.execute(query)]
    facts = load_day_clockings(connection, tenant_id, days)
    shifts = load_shift_windows(connection, tenant_id, {person for person, _ in days})
    return from_figures({(p, d): day_figures(d, facts[(p, d)], shifts.get(p)) for p, d in days})


def without_identity(records: Iterable[Any]) -> dict[Key, Any]:
    """Served records by person and date, without id and version (a 'from scratch' has
    none), and without external references."""
    found = {}
    for record in records:
        found[(record["person"]["id"], record["date"])] = {
            name: _plain(record[name]) for name in FIELDS if name in record
        }
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {"id": value["id"]}
    return value
