"""The calculated-totals collection: one record per person and day (docs/calculation.md).

The vendor lists the fields (contract, "Fidelity": normal time, time present,
calculated presence, weekly hours 1/2/3, pay-period hours, flextime and its balance)
but publishes no rule; these are this server's, written down with worked examples in
``docs/calculation.md``. In two steps:

* ``day_figures``: what one person-day contributes, from that day's clockings alone
  (the same presence clockings and pairing as the paid presence). The **planned
  shift** is the person's shift on Monday to Friday and none on Saturday and Sunday;
  **normal time** is the planned shift's window less its break (0 without one);
  **time present** is the sum of the clocked (in, out) pairs as clocked;
  **calculated presence** is the time present less the part of the planned shift's
  unpaid break the person did not clock out for, plus the absences of coded leaves
  (a leave is time the employer accounts for); **flextime** is calculated presence
  minus normal time.
* ``running_totals``: the running sums over a person's days. The **flextime balance**
  and the **pay-period hours** (calculated presence) run within the pay period, the
  calendar month, and start again at 0 on its first day; **weekly hours 1/2/3** are
  the running sums of calculated presence, time present and normal time within the
  ISO week (Monday to Sunday).

Because every running sum restarts with its period, a change to one day changes that
day and the later days of its month and of its ISO week, never more (``affected_until``):
one write rewrites at most about five weeks of one person's records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._calculation import (
    DayClocking,
    ShiftWindow,
    _absence_segments,
    _breaks,
    _pairs,
    _presence_clockings,
)

# ISO weekdays on which a shift plans no time: Saturday and Sunday.
DAYS_OFF = frozenset({6, 7})


@dataclass(frozen=True, slots=True)
class DayFigures:
    """What one person-day contributes, before any running sum."""

    normal_minutes: int
    present_minutes: int
    calculated_presence_minutes: int
    shift_definition_id: int | None

    @property
    def flextime_minutes(self) -> int:
        return self.calculated_presence_minutes - self.normal_minutes


@dataclass(frozen=True, slots=True)
class CalculatedTotal:
    """One record of the calculated-totals collection, in minutes."""

    date: dt.date
    normal_minutes: int
    present_minutes: int
    calculated_presence_minutes: int
    weekly_hours_1_minutes: int  # calculated presence, this ISO week so far
    weekly_hours_2_minutes: int  # time present, this ISO week so far
    weekly_hours_3_minutes: int  # normal time, this ISO week so far
    pay_period_minutes: int  # calculated presence, this pay period so far
    flextime_minutes: int
    flextime_balance_minutes: int  # flextime, this pay period so far
    shift_definition_id: int | None


def planned_shift(date: dt.date, shift: ShiftWindow | None) -> ShiftWindow | None:
    """The person's shift on a workday; on a day off none is planned."""
    return None if date.isoweekday() in DAYS_OFF else shift


def normal_minutes(shift: ShiftWindow | None) -> int:
    """A planned shift's time: its window less its unpaid break."""
    if shift is None:
        return 0
    return max(0, shift.end - shift.start - shift.break_minutes)


def day_figures(
    date: dt.date, clockings: Iterable[DayClocking], shift: ShiftWindow | None
) -> DayFigures | None:
    """The person-day's figures, or None when it has no presence clocking (no record),
    exactly when it has no paid presence."""
    presence = _presence_clockings(clockings)
    if not presence:
        return None
    shift = planned_shift(date, shift)
    present = sum(end - start for start, end in _pairs(presence))
    # As for the paid presence: an unpaid break the person did not clock out for is
    # taken off; a clocked one already went uncounted. No shift window applies: time
    # before or after the shift is what flextime is about.
    clocked_break = sum(end - start for start, end in _breaks(presence))
    untaken = max(0, (shift.break_minutes if shift else 0) - clocked_break)
    absent = sum(s.end - s.start for s in _absence_segments(presence, shift))
    return DayFigures(
        normal_minutes=normal_minutes(shift),
        present_minutes=present,
        calculated_presence_minutes=max(0, present - untaken) + absent,
        shift_definition_id=shift.id if shift else None,
    )


def pay_period_start(date: dt.date) -> dt.date:
    """The pay period is the calendar month."""
    return date.replace(day=1)


def pay_period_end(date: dt.date) -> dt.date:
    first_of_next = (date.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first_of_next - dt.timedelta(days=1)


def week_start(date: dt.date) -> dt.date:
    return date - dt.timedelta(days=date.isoweekday() - 1)


def history_start(date: dt.date) -> dt.date:
    """The first day whose figures the running sums of ``date`` (and of every day it
    affects) read: the start of its pay period or of its ISO week, if earlier."""
    return min(pay_period_start(date), week_start(date))


def affected_until(date: dt.date) -> dt.date:
    """The last day whose running sums the figures of ``date`` enter: the end of its
    pay period or of its ISO week (a week may run into the next month), if later."""
    return max(pay_period_end(date), week_start(date) + dt.timedelta(days=6))


def running_totals(days: Mapping[dt.date, DayFigures]) -> dict[dt.date, CalculatedTotal]:
    """One person's records from the figures of their days.

    Each sum restarts with its period, so a record is right when ``days`` holds every
    day with figures from its ``history_start`` on; earlier days may be missing.
    """
    totals: dict[dt.date, CalculatedTotal] = {}
    period = week = None
    balance = pay = weekly_1 = weekly_2 = weekly_3 = 0
    for date in sorted(days):
        figures = days[date]
        if pay_period_start(date) != period:
            period, balance, pay = pay_period_start(date), 0, 0
        if week_start(date) != week:
            week, weekly_1, weekly_2, weekly_3 = week_start(date), 0, 0, 0
        balance += figures.flextime_minutes
        pay += figures.calculated_presence_minutes
        weekly_1 += figures.calculated_presence_minutes
        weekly_2 += figures.present_minutes
        weekly_3 += figures.normal_minutes
        totals[date] = CalculatedTotal(
            date=date,
            normal_minutes=figures.normal_minutes,
            present_minutes=figures.present_minutes,
            calculated_presence_minutes=figures.calculated_presence_minutes,
            weekly_hours_1_minutes=weekly_1,
            weekly_hours_2_minutes=weekly_2,
            weekly_hours_3_minutes=weekly_3,
            pay_period_minutes=pay,
            flextime_minutes=figures.flextime_minutes,
            flextime_balance_minutes=balance,
            shift_definition_id=figures.shift_definition_id,
        )
    return totals
