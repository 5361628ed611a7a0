"""The calculated-totals collection's rules (docs/calculation.md, "Calculated totals").

The worked examples C1 to C12 of the page, one test each (the test id is the example's
number and name), and Hypothesis properties: the running sums against a sum written
independently over each day's period, the bound on what one day's change reaches,
and how a day's figures relate to its paid presence and absences.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronodelta.domain import (
    CalculatedTotal,
    DayClocking,
    DayFigures,
    ShiftWindow,
    activity_durations,
    affected_until,
    day_figures,
    history_start,
    paid_presence,
    running_totals,
)
from tests.domain.test_calculation import (
    DAY,
    MISSION,
    NIGHT,
    PERSONAL,
    SICKNESS,
    day,
    inout,
    leave,
    person_days,
)

MONDAY = dt.date(2026, 1, 12)
SATURDAY = dt.date(2026, 1, 17)


# ---- C1-C10: one day's figures ---------------------------------------------------------


@dataclass(frozen=True)
class DayExample:
    name: str
    clockings: tuple[DayClocking, ...]
    shift: ShiftWindow | None
    # normal time, time present, calculated presence; the flextime is their difference
    figures: tuple[int, int, int]
    date: dt.date = MONDAY
    planned: int | None = 1  # the shiftDefinition.id reported


DAY_EXAMPLES = (
    DayExample(
        "C1 plain day",
        day(inout("08:00"), inout("12:00"), inout("12:30"), inout("16:30")),
        DAY,
        (480, 480, 480),
    ),
    DayExample("C2 break not clocked", day(inout("08:00"), inout("16:30")), DAY, (480, 510, 480)),
    DayExample(
        "C3 early and late",
        day(inout("07:40"), inout("12:00"), inout("12:30"), inout("17:10")),
        DAY,
        (480, 540, 540),
    ),
    DayExample(
        "C4 long break",
        day(inout("08:00"), inout("12:00"), inout("13:00"), inout("16:30")),
        DAY,
        (480, 450, 450),
    ),
    DayExample(
        "C5 open leave until shift end",
        day(inout("08:00"), leave("10:00", SICKNESS, is_open=True)),
        DAY,
        (480, 120, 480),
    ),
    DayExample(
        "C6 leave with a return",
        day(inout("08:00"), leave("10:00", MISSION), inout("12:00"), inout("16:30")),
        DAY,
        (480, 390, 480),
    ),
    DayExample("C7 day in progress", day(inout("08:00")), DAY, (480, 0, 0)),
    DayExample(
        "C8 Saturday",
        day(inout("09:00"), inout("13:00")),
        DAY,
        (0, 240, 240),
        date=SATURDAY,
        planned=None,
    ),
    DayExample(
        "C9 night shift across midnight",
        day(inout("21:55"), inout("+1 02:00"), inout("+1 02:30"), inout("+1 06:05")),
        NIGHT,
        (450, 460, 460),
        planned=4,
    ),
    DayExample(
        "C10 no shift definition",
        day(inout("07:40"), inout("12:00"), inout("12:30"), leave("15:00", PERSONAL, is_open=True)),
        None,
        (0, 410, 410),
        planned=None,
    ),
)


@pytest.mark.parametrize("example", DAY_EXAMPLES, ids=lambda e: e.name)
def test_day_example(example: DayExample) -> None:
    normal, present, calculated = example.figures
    figures = day_figures(example.date, example.clockings, example.shift)
    assert figures == DayFigures(normal, present, calculated, example.planned)
    assert figures.flextime_minutes == calculated - normal


# ---- C11-C12: the running sums ---------------------------------------------------------


def _worked(date: str, start: str, end: str) -> tuple[dt.date, tuple[DayClocking, ...]]:
    return dt.date.fromisoformat(date), day(inout(start), inout(end))


# A Day-shift person's first days (hired on 2026-01-26), across a month's end that
# falls inside an ISO week (Monday 26 January to Sunday 1 February).
WEEK = dict(
    [
        _worked("2026-01-26", "08:00", "16:30"),
        _worked("2026-01-27", "07:30", "16:30"),
        _worked("2026-01-29", "08:00", "16:00"),
        _worked("2026-01-30", "08:00", "17:30"),
        _worked("2026-02-01", "10:00", "12:00"),
        _worked("2026-02-02", "08:00", "16:30"),
    ]
)
# date: normal, present, calculated, flextime, balance, pay period, weekly 1, 2, 3
C11 = {
    "2026-01-26": (480, 510, 480, 0, 0, 480, 480, 510, 480),
    "2026-01-27": (480, 540, 510, 30, 30, 990, 990, 1050, 960),
    "2026-01-29": (480, 480, 450, -30, 0, 1440, 1440, 1530, 1440),
    "2026-01-30": (480, 570, 540, 60, 60, 1980, 1980, 2100, 1920),
    "2026-02-01": (0, 120, 120, 120, 120, 120, 2100, 2220, 1920),
    "2026-02-02": (480, 510, 480, 0, 120, 600, 480, 510, 480),
}


def _table(totals: dict[dt.date, CalculatedTotal]) -> dict[str, tuple[int, ...]]:
    return {
        date.isoformat(): (
            t.normal_minutes,
            t.present_minutes,
            t.calculated_presence_minutes,
            t.flextime_minutes,
            t.flextime_balance_minutes,
            t.pay_period_minutes,
            t.weekly_hours_1_minutes,
            t.weekly_hours_2_minutes,
            t.weekly_hours_3_minutes,
        )
        for date, t in totals.items()
    }


def _week_totals(days: dict[dt.date, tuple[DayClocking, ...]]) -> dict[dt.date, CalculatedTotal]:
    figures = {date: day_figures(date, clockings, DAY) for date, clockings in days.items()}
    return running_totals({date: f for date, f in figures.items() if f is not None})


def test_c11_a_week_across_a_months_end() -> None:
    totals = _week_totals(WEEK)
    assert _table(totals) == C11
    assert totals[dt.date(2026, 2, 1)].shift_definition_id is None  # a Sunday


def test_c12_an_earlier_day_changes_the_later_ones() -> None:
    """Tuesday's out corrected from 16:30 to 15:30: Tuesday loses an hour, and so do
    the running sums of every later day of January and of that ISO week (Sunday's
    weekly hours, not its balance: February started a new pay period); Monday
    2 February is in another week and month and does not change."""
    changed = {**WEEK, dt.date(2026, 1, 27): day(inout("07:30"), inout("15:30"))}
    before, after = _table(_week_totals(WEEK)), _table(_week_totals(changed))
    assert after == {
        "2026-01-26": C11["2026-01-26"],
        "2026-01-27": (480, 480, 450, -30, -30, 930, 930, 990, 960),
        "2026-01-29": (480, 480, 450, -30, -60, 1380, 1380, 1470, 1440),
        "2026-01-30": (480, 570, 540, 60, 0, 1920, 1920, 2040, 1920),
        "2026-02-01": (0, 120, 120, 120, 120, 120, 2040, 2160, 1920),
        "2026-02-02": C11["2026-02-02"],
    }
    changed_days = {date for date in before if before[date] != after[date]}
    assert changed_days == {"2026-01-27", "2026-01-29", "2026-01-30", "2026-02-01"}
    assert affected_until(dt.date(2026, 1, 27)) == dt.date(2026, 2, 1)


# ---- properties ------------------------------------------------------------------------

FIRST = dt.date(2025, 12, 1)
figures_st = st.builds(
    DayFigures,
    normal_minutes=st.sampled_from([0, 450, 480]),
    present_minutes=st.integers(0, 900),
    calculated_presence_minutes=st.integers(0, 900),
    shift_definition_id=st.sampled_from([None, 1, 4]),
)
person_history = st.dictionaries(
    st.integers(0, 90).map(lambda n: FIRST + dt.timedelta(days=n)), figures_st, max_size=40
)


def _same_month(a: dt.date, b: dt.date) -> bool:
    return (a.year, a.month) == (b.year, b.month)


def _same_week(a: dt.date, b: dt.date) -> bool:
    return a.isocalendar()[:2] == b.isocalendar()[:2]


@settings(max_examples=300)
@given(days=person_history)
def test_running_sums_are_sums_over_each_days_period(days: dict[dt.date, DayFigures]) -> None:
    totals = running_totals(days)
    assert set(totals) == set(days)
    for date, total in totals.items():
        month = [f for d, f in days.items() if d <= date and _same_month(d, date)]
        week = [f for d, f in days.items() if d <= date and _same_week(d, date)]
        assert total.flextime_balance_minutes == sum(f.flextime_minutes for f in month)
        assert total.pay_period_minutes == sum(f.calculated_presence_minutes for f in month)
        assert total.weekly_hours_1_minutes == sum(f.calculated_presence_minutes for f in week)
        assert total.weekly_hours_2_minutes == sum(f.present_minutes for f in week)
        assert total.weekly_hours_3_minutes == sum(f.normal_minutes for f in week)
        own = days[date]
        assert (total.normal_minutes, total.flextime_minutes) == (
            own.normal_minutes,
            own.flextime_minutes,
        )


@settings(max_examples=300)
@given(days=person_history, date=st.sampled_from(range(91)), new=st.none() | figures_st)
def test_a_change_reaches_no_further_than_affected_until(
    days: dict[dt.date, DayFigures], date: int, new: DayFigures | None
) -> None:
    """The bound the server relies on: changing (or removing) one day's figures changes
    only records from that day to ``affected_until``, and those are right when
    computed from ``history_start`` on."""
    changed_day = FIRST + dt.timedelta(days=date)
    changed = {d: f for d, f in days.items() if d != changed_day}
    if new is not None:
        changed[changed_day] = new
    before, after = running_totals(days), running_totals(changed)
    for d in set(before) | set(after):
        if not changed_day <= d <= affected_until(changed_day):
            assert before.get(d) == after.get(d)
    window = {d: f for d, f in changed.items() if d >= history_start(changed_day)}
    for d, total in running_totals(window).items():
        if changed_day <= d <= affected_until(changed_day):
            assert total == after[d]


@settings(max_examples=300)
@given(person_day=person_days(), date=st.sampled_from([MONDAY, SATURDAY]))
def test_a_record_exists_exactly_when_the_paid_presence_does(
    person_day: tuple[list[DayClocking], ShiftWindow | None], date: dt.date
) -> None:
    clockings, shift = person_day
    figures = day_figures(date, clockings, shift)
    assert (figures is None) == (paid_presence(clockings, shift) is None)
    shuffled = random.Random(0).sample(clockings, len(clockings))
    assert day_figures(date, shuffled, shift) == figures


@settings(max_examples=300)
@given(person_day=person_days())
def test_on_a_workday_calculated_presence_covers_paid_presence_and_absences(
    person_day: tuple[list[DayClocking], ShiftWindow | None],
) -> None:
    """Calculated presence drops the shift's window (time before and after it counts)
    but keeps its break rule, and credits the absences: never less than the paid
    presence plus the day's absence durations, and time present is the paid presence
    without a shift."""
    clockings, shift = person_day
    figures = day_figures(MONDAY, clockings, shift)
    paid = paid_presence(clockings, shift)
    if figures is None or paid is None:
        return
    absences = sum(
        t.duration_minutes
        for t in activity_durations(clockings, shift)
        if t.absence_definition_id is not None
    )
    assert figures.calculated_presence_minutes >= paid.duration_minutes + absences
    unshifted = paid_presence(clockings, None)
    assert unshifted is not None and figures.present_minutes == unshifted.duration_minutes


@settings(max_examples=200)
@given(person_day=person_days())
def test_on_a_day_off_no_shift_is_planned(
    person_day: tuple[list[DayClocking], ShiftWindow | None],
) -> None:
    clockings, shift = person_day
    assert day_figures(SATURDAY, clockings, shift) == day_figures(SATURDAY, clockings, None)
    figures = day_figures(SATURDAY, clockings, None)
    if figures is not None:
        assert figures.normal_minutes == 0 and figures.shift_definition_id is None
        assert figures.flextime_minutes == figures.calculated_presence_minutes
