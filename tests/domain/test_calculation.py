"""Paid presences and activity durations from a person-day's clockings.

Two halves: the worked examples of ``docs/calculation.md``, one test each (the test id
is the example's number and name, E1 to E22, so doc and tests stay paired), and
Hypothesis properties of the pure functions, the strongest of which compare them with
a minute-by-minute model of the rules written independently of the code.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronodelta.domain import (
    ActivityDurationTotal,
    ActivityLevel,
    ClockingKind,
    ClockingStatus,
    CounterLinks,
    DayClocking,
    DurationStatus,
    PaidPresenceTotal,
    ShiftWindow,
    activity_durations,
    paid_presence,
)

IN_OUT, REASON = ClockingKind.IN_OUT, ClockingKind.REASON
ACTIVITY, ACTIVITY_END = ClockingKind.ACTIVITY, ClockingKind.ACTIVITY_END
AUTO, MANUAL = DurationStatus.AUTO, DurationStatus.MANUAL

# The demo data's shifts (chronodelta.demo): Day 08:00-16:30 and Night 22:00-06:00.
DAY = ShiftWindow(id=1, start=480, end=990, break_minutes=30)
NIGHT = ShiftWindow(id=4, start=1320, end=1800, break_minutes=30)


def ad(number: int) -> str:
    """Activity definition ``number`` of the worked examples (the demo data's structure,
    numbered in order: 1 P100, 2 P100/DEV...) as a GUID: seed 003 types the id as a
    string, and the vendor's are GUIDs."""
    return f"00000000-0000-4000-8000-{number:012d}"


# The demo data's counter links: maintenance (activity 13, CC410) feeds overtime (1),
# training (absence 2) the flexi balance (2), a mission (absence 5) meal vouchers (3).
COUNTERS = CounterLinks(activities={ad(13): (1,)}, absences={2: (2,), 5: (3,)})
DOCTOR, SICKNESS, MISSION, PERSONAL = 1, 4, 5, 6


# ---- building days ---------------------------------------------------------------------


def at(text: str) -> int:
    """'08:00' -> 480; '+1 02:00' -> 1560 (after midnight, on the shift's own date)."""
    days, _, hhmm = text.rpartition(" ")
    hours, minutes = hhmm.split(":")
    return int(days or 0) * 1440 + int(hours) * 60 + int(minutes)


def _clocking(
    time: str,
    kind: ClockingKind,
    *,
    deleted: bool = False,
    generated: bool = False,
    edited: bool = False,
    reason: int | None = None,
    is_open: bool | None = None,
    levels: tuple[ActivityLevel, ...] = (),
) -> DayClocking:
    return DayClocking(
        id=0,
        time=at(time),
        kind=kind,
        status=ClockingStatus.DELETED if deleted else ClockingStatus.ACTIVE,
        is_generated=generated,
        is_edited=edited,
        reason_id=reason,
        is_open=is_open,
        activity_levels=levels,
    )


def inout(
    time: str, *, deleted: bool = False, generated: bool = False, edited: bool = False
) -> DayClocking:
    return _clocking(time, IN_OUT, deleted=deleted, generated=generated, edited=edited)


def leave(time: str, reason: int, *, is_open: bool = False) -> DayClocking:
    return _clocking(time, REASON, reason=reason, is_open=is_open)


def activity(
    time: str,
    *definitions: int,
    deleted: bool = False,
    generated: bool = False,
    edited: bool = False,
) -> DayClocking:
    levels = tuple(ActivityLevel(n, ad(d)) for n, d in enumerate(definitions, start=1))
    return _clocking(
        time, ACTIVITY, deleted=deleted, generated=generated, edited=edited, levels=levels
    )


def activity_end(time: str, *, edited: bool = False, generated: bool = False) -> DayClocking:
    return _clocking(time, ACTIVITY_END, edited=edited, generated=generated)


def day(*clockings: DayClocking) -> tuple[DayClocking, ...]:
    """Number the clockings 1, 2, 3... in the order written."""
    return tuple(dataclasses.replace(c, id=n) for n, c in enumerate(clockings, start=1))


def on_activity(
    definitions: tuple[int, ...],
    minutes: int,
    status: DurationStatus = AUTO,
    *,
    authorized: bool = True,
    counters: tuple[int, ...] = (),
) -> ActivityDurationTotal:
    return ActivityDurationTotal(
        key="activity:" + "/".join(map(ad, definitions)),
        duration_minutes=minutes,
        activity_levels=tuple(ActivityLevel(n, ad(d)) for n, d in enumerate(definitions, start=1)),
        absence_definition_id=None,
        counter_definition_ids=counters,
        status=status,
        is_authorized=authorized,
    )


def absent(
    reason: int,
    minutes: int,
    status: DurationStatus = AUTO,
    *,
    counters: tuple[int, ...] = (),
) -> ActivityDurationTotal:
    return ActivityDurationTotal(
        key=f"absence:{reason}",
        duration_minutes=minutes,
        activity_levels=(),
        absence_definition_id=reason,
        counter_definition_ids=counters,
        status=status,
        is_authorized=True,
    )


# ---- the worked examples of docs/calculation.md ---------------------------------------


@dataclass(frozen=True)
class Example:
    name: str
    clockings: tuple[DayClocking, ...]
    shift: ShiftWindow | None
    paid: int | None  # None: no paid presence record
    durations: tuple[ActivityDurationTotal, ...] = ()


EXAMPLES = (
    Example(
        "E1 plain day",
        day(inout("08:00"), inout("12:00"), inout("12:30"), inout("16:30")),
        DAY,
        paid=480,
    ),
    Example("E2 break not clocked", day(inout("08:00"), inout("16:30")), DAY, paid=480),
    Example(
        "E3 break shorter than the shift's",
        day(inout("08:00"), inout("12:00"), inout("12:20"), inout("16:30")),
        DAY,
        paid=480,
    ),
    Example(
        "E4 break longer than the shift's",
        day(inout("08:00"), inout("12:00"), inout("13:00"), inout("16:30")),
        DAY,
        paid=450,
    ),
    Example(
        "E5 clocked outside the shift window",
        day(inout("07:40"), inout("12:00"), inout("12:30"), inout("17:10")),
        DAY,
        paid=480,
    ),
    Example(
        "E6 odd number of clockings",
        day(inout("08:00"), inout("12:00"), inout("12:30")),
        DAY,
        paid=240,
    ),
    Example("E7 only an in", day(inout("08:00"), activity("08:02", 1, 2)), DAY, paid=0),
    Example(
        "E8 edited clocking",
        day(
            inout("08:00"),
            activity("08:02", 13, 15),
            activity_end("16:28", edited=True),  # registered 15:50
            inout("16:30"),
        ),
        DAY,
        paid=480,
        durations=(on_activity((13, 15), 506, MANUAL, counters=(1,)),),
    ),
    Example(
        "E9 deleted clocking",
        day(inout("08:00"), inout("10:00", deleted=True), inout("16:30")),
        DAY,
        paid=480,
    ),
    Example(
        "E10 generated clocking",
        day(inout("08:00"), activity("08:02", 5, 6), inout("16:30", generated=True)),
        DAY,
        paid=480,
        durations=(on_activity((5, 6), 508, authorized=False),),
    ),
    Example(
        "E11 only an activity end",
        day(inout("08:00"), activity_end("16:28"), inout("16:30")),
        DAY,
        paid=480,
    ),
    Example(
        "E12 activity never ended",
        day(
            inout("08:00"),
            activity("08:02", 1, 2),
            inout("12:00"),
            inout("12:30"),
            inout("16:30"),
        ),
        DAY,
        paid=480,
        durations=(on_activity((1, 2), 478, authorized=False),),
    ),
    Example(
        "E13 activity switch",
        day(
            inout("08:00"),
            activity("08:02", 1, 2),
            inout("12:00"),
            inout("12:30"),
            activity("12:32", 9, 10),
            activity_end("16:28"),
            inout("16:30"),
        ),
        DAY,
        paid=480,
        durations=(on_activity((1, 2), 240), on_activity((9, 10), 236)),
    ),
    Example(
        "E14 back to an earlier activity",
        day(
            inout("08:00"),
            activity("08:02", 1, 2),
            activity("10:00", 1, 3),
            activity("11:00", 1, 2, edited=True),  # registered 11:10
            activity_end("16:28"),
            inout("16:30"),
        ),
        DAY,
        paid=480,
        durations=(
            on_activity((1, 2), 446, MANUAL),
            on_activity((1, 3), 60, MANUAL),
        ),
    ),
    Example(
        "E15 activity clockings only",
        day(activity("09:00", 5, 7), activity_end("11:00")),
        DAY,
        paid=None,
        durations=(on_activity((5, 7), 120),),
    ),
    Example(
        "E16 night shift across midnight",
        day(inout("21:55"), inout("+1 02:00"), inout("+1 02:30"), inout("+1 06:05")),
        NIGHT,
        paid=450,
    ),
    Example(
        "E17 open leave until shift end",
        day(inout("08:00"), leave("10:00", SICKNESS, is_open=True)),
        DAY,
        paid=90,
        durations=(absent(SICKNESS, 390),),
    ),
    Example(
        "E18 leave with a return",
        day(
            inout("08:00"),
            leave("10:00", MISSION),
            inout("12:00", edited=True),  # registered 12:20
            inout("16:30"),
        ),
        DAY,
        paid=360,
        durations=(absent(MISSION, 120, MANUAL, counters=(3,)),),
    ),
    Example(
        "E19 leave with the return still to come",
        day(inout("08:00"), leave("10:00", DOCTOR)),
        DAY,
        paid=90,
    ),
    Example(
        "E20 leave during an activity",
        day(
            inout("08:00"),
            activity("08:02", 5, 6),
            leave("10:00", DOCTOR),
            inout("11:30"),
            activity_end("16:28"),
            inout("16:30"),
        ),
        DAY,
        paid=390,
        durations=(on_activity((5, 6), 416), absent(DOCTOR, 90)),
    ),
    Example(
        "E21 no shift definition",
        day(inout("07:40"), inout("12:00"), inout("12:30"), leave("15:00", PERSONAL, is_open=True)),
        None,
        paid=410,
    ),
    Example(
        "E22 everything deleted but an activity end",
        day(
            inout("08:00", deleted=True),
            activity("09:00", 1, 2, deleted=True),
            activity_end("11:00"),
        ),
        DAY,
        paid=None,
    ),
)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_worked_example(example: Example) -> None:
    """Each example of docs/calculation.md, clockings in, totals out."""
    shift_id = example.shift.id if example.shift is not None else None
    expected = None if example.paid is None else PaidPresenceTotal(example.paid, shift_id)
    assert paid_presence(example.clockings, example.shift) == expected
    assert activity_durations(example.clockings, example.shift, COUNTERS) == example.durations


def test_e8_uses_the_corrected_time_not_the_registered_one() -> None:
    """E8: with the registered ActivityEnd (15:50) the activity would last 468 minutes."""
    registered = day(
        inout("08:00"), activity("08:02", 13, 15), activity_end("15:50"), inout("16:30")
    )
    (total,) = activity_durations(registered, DAY, COUNTERS)
    assert (total.duration_minutes, total.status) == (468, AUTO)


def test_e9_the_deleted_clocking_would_have_mattered() -> None:
    """E9 without the delete: 08:00 in, 10:00 out, 16:30 an open in: 120 minutes."""
    kept = day(inout("08:00"), inout("10:00"), inout("16:30"))
    assert paid_presence(kept, DAY) == PaidPresenceTotal(120, DAY.id)


def test_leave_examples_add_up_to_the_paid_shift() -> None:
    """E17, E18, E20: a leave is no break, so presence plus absences is the paid shift."""
    for name in ("E17", "E18", "E20"):
        example = next(e for e in EXAMPLES if e.name.startswith(name + " "))
        absences = sum(
            t.duration_minutes
            for t in activity_durations(example.clockings, DAY)
            if t.absence_definition_id is not None
        )
        presence = paid_presence(example.clockings, DAY)
        assert presence is not None
        assert presence.duration_minutes + absences == DAY.end - DAY.start - DAY.break_minutes


GENERATED_BOUNDARIES = {
    "activity start": (1, day(activity("08:02", 1, 2), activity_end("16:28"))),
    "activity end": (2, day(activity("08:02", 1, 2), activity_end("16:28"))),
    "leave": (2, day(inout("08:00"), leave("10:00", DOCTOR), inout("12:00"))),
    "return": (3, day(inout("08:00"), leave("10:00", DOCTOR), inout("12:00"))),
}


@pytest.mark.parametrize("generated", GENERATED_BOUNDARIES)
def test_a_generated_boundary_leaves_the_duration_unauthorized(generated: str) -> None:
    """The rule behind E10 and E12: where the system chose a start or an end (here one
    clocking it generated), the duration is not authorized; its minutes still count."""
    clocking_id, clockings = GENERATED_BOUNDARIES[generated]
    marked = [dataclasses.replace(c, is_generated=c.id == clocking_id) for c in clockings]
    (honest,) = activity_durations(clockings, DAY)
    (guessed,) = activity_durations(marked, DAY)
    assert honest.is_authorized
    assert guessed == dataclasses.replace(honest, is_authorized=False)


def test_a_day_whose_last_clocking_is_deleted_loses_its_paid_presence() -> None:
    """Which record exists: the total of a person-day without presence clockings is gone
    (the server deletes it; open deltas report a Delete)."""
    before = day(inout("08:00"))
    after = day(inout("08:00", deleted=True))
    assert paid_presence(before, DAY) == PaidPresenceTotal(0, DAY.id)
    assert paid_presence(after, DAY) is None


# ---- a minute-by-minute model of the rules --------------------------------------------


def _active_sorted(clockings: Sequence[DayClocking]) -> list[DayClocking]:
    active = [c for c in clockings if c.status != ClockingStatus.DELETED]
    return sorted(active, key=lambda c: (c.time, c.id))


def _presence(clockings: Sequence[DayClocking]) -> list[DayClocking]:
    return [c for c in _active_sorted(clockings) if c.kind in (IN_OUT, REASON)]


def model_paid(clockings: Sequence[DayClocking], shift: ShiftWindow | None) -> int | None:
    """Walk the minutes: after an in with its out still to come, the minute is worked;
    after an InOut out with an in still to come, it is a clocked break."""
    presence = _presence(clockings)
    if not presence:
        return None
    worked = clocked_break = 0
    lo, hi = presence[0].time, presence[-1].time
    for minute in range(lo, hi):
        if shift is not None and not shift.start <= minute < shift.end:
            continue
        seen = sum(1 for c in presence if c.time <= minute)
        if seen % 2 == 1 and seen < len(presence):
            worked += 1
        elif seen % 2 == 0 and 0 < seen < len(presence) and presence[seen - 1].kind == IN_OUT:
            clocked_break += 1
    if shift is None:
        return worked
    return max(0, worked - max(0, shift.break_minutes - clocked_break))


def model_durations(clockings: Sequence[DayClocking], shift: ShiftWindow | None) -> dict[str, int]:
    """Walk the minutes: which activity or absence, if any, the minute counts for."""
    active = _active_sorted(clockings)
    presence = [c for c in active if c.kind in (IN_OUT, REASON)]
    marks = [c for c in active if c.kind in (ACTIVITY, ACTIVITY_END)]
    last_out = presence[-1].time if presence and len(presence) % 2 == 0 else None
    ends = [c.time for c in active] + ([shift.end] if shift is not None else [])
    found: Counter[str] = Counter()
    for minute in range(min(ends, default=0), max(ends, default=0)):
        seen = [c for c in presence if c.time <= minute]
        away = len(seen) >= 2 and len(seen) % 2 == 0
        marked = [c for c in marks if c.time <= minute]
        if marked and marked[-1].kind == ACTIVITY and not away:
            closed_later = len(marked) < len(marks) or (last_out is not None and minute < last_out)
            if closed_later:
                ids = "/".join(lv.activity_definition_id for lv in marked[-1].activity_levels)
                found[f"activity:{ids}"] += 1
        if seen and len(seen) % 2 == 0 and seen[-1].kind == REASON and seen[-1].reason_id:
            back_later = len(seen) < len(presence)
            open_leave = bool(seen[-1].is_open) and shift is not None and minute < shift.end
            if back_later or open_leave:
                found[f"absence:{seen[-1].reason_id}"] += 1
    return {key: minutes for key, minutes in found.items() if minutes}


# ---- strategies --------------------------------------------------------------------------

LEVELS = (
    (ActivityLevel(1, ad(1)), ActivityLevel(2, ad(2))),
    (ActivityLevel(1, ad(1)), ActivityLevel(2, ad(3))),
    (ActivityLevel(1, ad(13)),),
)
# Near the Day shift, with its boundaries and a break time often hit exactly (ties).
NEAR_DAY = st.integers(400, 1100) | st.sampled_from([480, 600, 720, 750, 989, 990])
ANY_TIME = st.integers(-1440, 2880)


def _drawn(draw: st.DrawFn, clocking_id: int, time: int, kind: ClockingKind) -> DayClocking:
    return DayClocking(
        id=clocking_id,
        time=time,
        kind=kind,
        status=draw(st.sampled_from([ClockingStatus.ACTIVE] * 5 + [ClockingStatus.DELETED])),
        is_generated=draw(st.booleans()),
        is_edited=draw(st.booleans()),
        reason_id=draw(st.sampled_from([1, 5])) if kind == REASON else None,
        is_open=draw(st.booleans()) if kind == REASON else None,
        activity_levels=draw(st.sampled_from(LEVELS)) if kind == ACTIVITY else (),
    )


def _build(draw: st.DrawFn, timed: list[tuple[int, ClockingKind]]) -> list[DayClocking]:
    """Unique ids in random order, so ties in time are broken either way."""
    size = len(timed)
    ids = draw(st.lists(st.integers(1, 10_000), min_size=size, max_size=size, unique=True))
    return [_drawn(draw, i, t, k) for i, (t, k) in zip(ids, timed, strict=True)]


@st.composite
def loose_days(draw: st.DrawFn, times: st.SearchStrategy[int]) -> list[DayClocking]:
    """Any kinds at any times: odd counts, a leave at an in position, lone ends..."""
    kinds = st.sampled_from([IN_OUT, IN_OUT, REASON, ACTIVITY, ACTIVITY_END])
    return _build(draw, draw(st.lists(st.tuples(times, kinds), max_size=12)))


@st.composite
def shaped_days(draw: st.DrawFn, times: st.SearchStrategy[int]) -> list[DayClocking]:
    """Shaped like a real day: presence clockings alternate in and out (an out is now
    and then a coded leave), with activity clockings in between."""
    presence = sorted(draw(st.lists(times, max_size=7)))
    leaves = draw(st.lists(st.booleans(), min_size=len(presence), max_size=len(presence)))
    timed = [
        (t, REASON if n % 2 == 1 and leave else IN_OUT)
        for n, (t, leave) in enumerate(zip(presence, leaves, strict=True))
    ]
    ends_on_leave = len(timed) % 2 == 0 and bool(timed) and draw(st.integers(0, 2)) > 0
    if ends_on_leave:  # a leave for the rest of the day
        timed[-1] = (timed[-1][0], REASON)
    marks = st.tuples(times, st.sampled_from([ACTIVITY, ACTIVITY, ACTIVITY_END]))
    clockings = _build(draw, timed + draw(st.lists(marks, max_size=4)))
    if ends_on_leave:
        clockings[len(timed) - 1] = dataclasses.replace(clockings[len(timed) - 1], is_open=True)
    return clockings


def days(times: st.SearchStrategy[int] = NEAR_DAY) -> st.SearchStrategy[list[DayClocking]]:
    return loose_days(times) | shaped_days(times)


@st.composite
def windows(draw: st.DrawFn, times: st.SearchStrategy[int]) -> ShiftWindow:
    start, end = sorted((draw(times), draw(times)))
    return ShiftWindow(draw(st.integers(1, 5)), start, end, draw(st.integers(0, 60)))


PersonDay = tuple[list[DayClocking], ShiftWindow | None]


@st.composite
def person_days(draw: st.DrawFn, times: st.SearchStrategy[int] = NEAR_DAY) -> PersonDay:
    """A shift (or none) and a day's clockings, half the time around that shift."""
    shift = draw(st.none() | st.sampled_from([DAY, NIGHT]) | windows(times))
    if shift is not None and draw(st.booleans()):
        around = st.integers(shift.start - 30, shift.end + 30)
        times = around | st.sampled_from([shift.start, shift.end - 1, shift.end])
    return draw(days(times)), shift


def minutes_by_key(totals: Sequence[ActivityDurationTotal]) -> dict[str, int]:
    return {t.key: t.duration_minutes for t in totals if t.duration_minutes}


# ---- properties -----------------------------------------------------------------------

# Links on both levels and on an absence, so that counters are a real union.
LINKS = CounterLinks(
    activities={ad(1): (3,), ad(2): (1, 3), ad(13): (1,)}, absences={1: (2,), 5: (3,)}
)


@settings(max_examples=400)
@given(person_days())
def test_paid_presence_follows_the_minute_model(person_day: PersonDay) -> None:
    clockings, shift = person_day
    total = paid_presence(clockings, shift)
    expected = model_paid(clockings, shift)
    assert (total.duration_minutes if total else None) == expected


@settings(max_examples=400)
@given(person_days())
def test_activity_durations_follow_the_minute_model(person_day: PersonDay) -> None:
    clockings, shift = person_day
    assert minutes_by_key(activity_durations(clockings, shift)) == model_durations(clockings, shift)


@given(st.data(), person_days())
def test_input_order_does_not_matter(data: st.DataObject, person_day: PersonDay) -> None:
    clockings, shift = person_day
    shuffled = data.draw(st.permutations(clockings))
    assert paid_presence(shuffled, shift) == paid_presence(clockings, shift)
    assert activity_durations(shuffled, shift, LINKS) == activity_durations(clockings, shift, LINKS)


@given(person_days())
def test_deleted_clockings_never_matter(person_day: PersonDay) -> None:
    clockings, shift = person_day
    active = [c for c in clockings if c.status != ClockingStatus.DELETED]
    assert paid_presence(clockings, shift) == paid_presence(active, shift)
    assert activity_durations(clockings, shift, LINKS) == activity_durations(active, shift, LINKS)


@given(days(ANY_TIME))
def test_without_a_shift_paid_presence_is_the_sum_of_the_pairs(
    clockings: list[DayClocking],
) -> None:
    presence = _presence(clockings)
    pairs = sum(presence[i + 1].time - presence[i].time for i in range(0, len(presence) - 1, 2))
    total = paid_presence(clockings, None)
    if not presence:
        assert total is None
    else:
        assert total == PaidPresenceTotal(pairs, None)
        assert 0 <= pairs <= presence[-1].time - presence[0].time


@given(person_days(ANY_TIME))
def test_with_a_shift_paid_presence_fits_in_the_paid_shift(person_day: PersonDay) -> None:
    clockings, shift = person_day
    total = paid_presence(clockings, shift)
    if shift is None or total is None:
        return
    assert total.shift_definition_id == shift.id
    assert 0 <= total.duration_minutes <= max(0, shift.end - shift.start - shift.break_minutes)


@given(person_days() | person_days(ANY_TIME))
def test_durations_are_never_negative_and_fit_in_the_day(person_day: PersonDay) -> None:
    """Activities and absences never overlap each other or themselves: together they fit
    between the first active clocking and the last (or the shift's end, for an open
    leave)."""
    clockings, shift = person_day
    totals = activity_durations(clockings, shift, LINKS)
    times = [c.time for c in clockings if c.status != ClockingStatus.DELETED]
    if not totals:
        return
    last = max([*times, shift.end if shift is not None else min(times)])
    assert all(t.duration_minutes >= 0 for t in totals)
    assert sum(t.duration_minutes for t in totals) <= last - min(times)
    activities = sum(t.duration_minutes for t in totals if t.absence_definition_id is None)
    assert activities <= max(times) - min(times)


@given(person_days(), st.integers(-1440, 1440) | st.sampled_from([840, 960, 1440, -1440]))
def test_moving_the_whole_day_changes_nothing(person_day: PersonDay, offset: int) -> None:
    """A night shift across midnight is a day shift moved by 840 minutes: no hidden 0 or
    1440 in the rules (days around the Day or Night shift, moved up to a day)."""
    clockings, shift = person_day
    moved = [dataclasses.replace(c, time=c.time + offset) for c in clockings]
    moved_shift = (
        None
        if shift is None
        else dataclasses.replace(shift, start=shift.start + offset, end=shift.end + offset)
    )
    assert paid_presence(moved, moved_shift) == paid_presence(clockings, shift)
    assert activity_durations(moved, moved_shift, LINKS) == activity_durations(
        clockings, shift, LINKS
    )


@given(person_days())
def test_status_is_manual_exactly_when_an_edit_is_involved(person_day: PersonDay) -> None:
    """Never Unknown; no edits: all Auto; every clocking edited: all Manual, same minutes."""
    clockings, shift = person_day
    plain = [dataclasses.replace(c, is_edited=False) for c in clockings]
    edited = [dataclasses.replace(c, is_edited=True) for c in clockings]
    plain_totals = activity_durations(plain, shift)
    edited_totals = activity_durations(edited, shift)
    assert all(t.status == AUTO for t in plain_totals)
    assert all(t.status == MANUAL for t in edited_totals)
    assert minutes_by_key(plain_totals) == minutes_by_key(edited_totals)
    assert paid_presence(plain, shift) == paid_presence(edited, shift)


@given(person_days())
def test_authorized_unless_the_system_chose_a_boundary(person_day: PersonDay) -> None:
    """No generated clocking and no activity left open for an implicit close: all
    authorized. Every clocking generated: none authorized, same minutes."""
    clockings, shift = person_day
    honest = [dataclasses.replace(c, is_generated=False) for c in clockings]
    generated = [dataclasses.replace(c, is_generated=True) for c in clockings]
    honest_totals = activity_durations(honest, shift)
    generated_totals = activity_durations(generated, shift)
    assert not any(t.is_authorized for t in generated_totals)
    assert minutes_by_key(honest_totals) == minutes_by_key(generated_totals)
    assert paid_presence(honest, shift) == paid_presence(generated, shift)
    marks = [c for c in _active_sorted(honest) if c.kind in (ACTIVITY, ACTIVITY_END)]
    if not marks or marks[-1].kind == ACTIVITY_END:
        assert all(t.is_authorized for t in honest_totals)
        return
    presence = _presence(honest)
    if len(presence) % 2 == 0 and presence and presence[-1].time > marks[-1].time:
        # Left open, closed by the day's last out: the system chose that end.
        ids = "/".join(lv.activity_definition_id for lv in marks[-1].activity_levels)
        (implicit,) = (t for t in honest_totals if t.key == f"activity:{ids}")
        assert not implicit.is_authorized


@given(person_days())
def test_fields_follow_the_key_and_the_counter_links(person_day: PersonDay) -> None:
    """One total per key; levels or absence as the key says; counters are the sorted
    union of what the activity's levels or the absence feed."""
    clockings, shift = person_day
    totals = activity_durations(clockings, shift, LINKS)
    assert len({t.key for t in totals}) == len(totals)
    for total in totals:
        if total.absence_definition_id is not None:
            assert (total.key, total.activity_levels) == (
                f"absence:{total.absence_definition_id}",
                (),
            )
            expected = set(LINKS.absences.get(total.absence_definition_id, ()))
        else:
            ids = [lv.activity_definition_id for lv in total.activity_levels]
            assert total.key == "activity:" + "/".join(ids)
            expected = {n for i in ids for n in LINKS.activities.get(i, ())}
        assert total.counter_definition_ids == tuple(sorted(expected))
