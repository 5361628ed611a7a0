"""How paid presences and activity durations follow from one person-day's clockings.

Pure functions: the server calls them for every person-day a write touches, inside
the write's transaction (``server/_calculation.py``), and the tests call them to
recalculate from scratch. The rules, with worked examples, are in
``docs/calculation.md``; in short:

* **Presence clockings** are the day's active InOut and Reason clockings (a Reason
  clocking is a coded leave), in (time, id) order. By position they alternate in,
  out, in, out...; each in/out pair is a presence interval. An unmatched last in
  is still open and counts nothing yet.
* **Paid presence** (one per person-day with at least one presence clocking): the
  intervals' minutes; with a shift definition, only the minutes inside the shift's
  window, less the part of the shift's unpaid break the person did not clock out for
  (time away on a coded leave is no break: it is counted as an absence).
* **Activity durations** (one per person, day and activity or absence): an Activity
  clocking opens a segment, the next Activity or an ActivityEnd closes it; time the
  person was clocked out does not count. A segment still open at the end of the day
  is closed by the day's last out-clocking. A Reason clocking at an out position
  opens an absence until the person is back. A duration with a boundary the system
  chose (a generated clocking, an implicit close) is not authorized; one with an
  edited boundary is Manual, otherwise Auto.

Times are minutes from the midnight of the clocking's date (-1440..2880), so a night
shift's out-clocking after midnight stays on the day the shift began (contract).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ._records import ActivityLevel, ClockingKind, ClockingStatus

UNBOUNDED = 10**6  # past any time of day: an absence that lasts beyond the day


class DurationStatus(StrEnum):
    """Contract: Unknown, Auto or Manual. This server produces Auto and Manual."""

    UNKNOWN = "Unknown"
    AUTO = "Auto"
    MANUAL = "Manual"


@dataclass(frozen=True, slots=True)
class DayClocking:
    """What the calculation reads of a clocking (``time`` is the calculated time)."""

    id: int
    time: int
    kind: ClockingKind
    status: ClockingStatus = ClockingStatus.ACTIVE
    is_generated: bool = False
    is_edited: bool = False
    reason_id: int | None = None
    is_open: bool | None = None
    activity_levels: tuple[ActivityLevel, ...] = ()


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """The person's shift: paid window [start, end] and unpaid break, in minutes."""

    id: int
    start: int
    end: int
    break_minutes: int


@dataclass(frozen=True, slots=True)
class CounterLinks:
    """Counters fed by time booked on an activity definition or an absence definition."""

    activities: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # by GUID
    absences: Mapping[int, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaidPresenceTotal:
    duration_minutes: int
    shift_definition_id: int | None


@dataclass(frozen=True, slots=True)
class ActivityDurationTotal:
    """One activity duration; ``key`` names what it totals within its person-day."""

    key: str
    duration_minutes: int
    activity_levels: tuple[ActivityLevel, ...]
    absence_definition_id: int | None
    counter_definition_ids: tuple[int, ...]
    status: DurationStatus
    is_authorized: bool


Interval = tuple[int, int]


def paid_presence(
    clockings: Iterable[DayClocking], shift: ShiftWindow | None
) -> PaidPresenceTotal | None:
    """The person-day's paid presence, or None when it has no presence clocking."""
    presence = _presence_clockings(clockings)
    if not presence:
        return None
    intervals = _pairs(presence)
    if shift is None:
        return PaidPresenceTotal(sum(end - start for start, end in intervals), None)
    window = (shift.start, shift.end)
    worked = sum(_overlap(interval, window) for interval in intervals)
    # The break is unpaid. Time clocked out for a break inside the window already went
    # unpaid, so only the rest of the break is taken off.
    clocked_break = sum(_overlap(gap, window) for gap in _breaks(presence))
    untaken = max(0, shift.break_minutes - clocked_break)
    return PaidPresenceTotal(max(0, worked - untaken), shift.id)


def activity_durations(
    clockings: Iterable[DayClocking],
    shift: ShiftWindow | None,
    counters: CounterLinks | None = None,
) -> tuple[ActivityDurationTotal, ...]:
    """The person-day's activity and absence durations, in order of first start."""
    active = sorted(_active(clockings), key=_order)
    presence = [c for c in active if c.kind in _PRESENCE_KINDS]
    away = _clocked_out(presence)
    segments = _activity_segments(active, presence) + _absence_segments(presence, shift)
    return _totals(segments, away, counters or CounterLinks())


# ---- presence -------------------------------------------------------------------------

_PRESENCE_KINDS = frozenset({ClockingKind.IN_OUT, ClockingKind.REASON})
_ACTIVITY_KINDS = frozenset({ClockingKind.ACTIVITY, ClockingKind.ACTIVITY_END})


def _active(clockings: Iterable[DayClocking]) -> list[DayClocking]:
    """Deleted clockings stay in the API (soft delete) but count for nothing."""
    return [c for c in clockings if c.status != ClockingStatus.DELETED]


def _order(clocking: DayClocking) -> tuple[int, int, int]:
    """Time, then the order the clockings were made in (ties: a clocking pairs with the
    one next to it in that order).

    A negative id is a running write's provisional one (storage, late version
    assignment, issue 14): it becomes higher than every id committed before, in the
    order of ``-id``. Sorted as the final id will be, so that the write computes what
    a recalculation from scratch computes after its commit.
    """
    made = clocking.id
    return (clocking.time, 0, made) if made >= 0 else (clocking.time, 1, -made)


def _presence_clockings(clockings: Iterable[DayClocking]) -> list[DayClocking]:
    return sorted((c for c in _active(clockings) if c.kind in _PRESENCE_KINDS), key=_order)


def _pairs(presence: Sequence[DayClocking]) -> list[Interval]:
    """(in, out) by position; an unmatched last in is open and left out."""
    return [(presence[i].time, presence[i + 1].time) for i in range(0, len(presence) - 1, 2)]


def _breaks(presence: Sequence[DayClocking]) -> list[Interval]:
    """Clocked breaks: from an InOut out-clocking to the next presence clocking. A
    coded leave (Reason) is no break: its time is an absence duration, and counting it
    as the break too would pay the break on days with a leave."""
    return [
        (presence[i].time, presence[i + 1].time)
        for i in range(1, len(presence) - 1, 2)
        if presence[i].kind == ClockingKind.IN_OUT
    ]


def _clocked_out(presence: Sequence[DayClocking]) -> list[Interval]:
    """When the person is known to be away: from each out to the next in, and after the
    day's last out. Before the first in nothing is known, so nothing is taken off."""
    outs = [presence[i].time for i in range(1, len(presence), 2)]
    ins = [presence[i].time for i in range(2, len(presence), 2)]
    return [(out, ins[n] if n < len(ins) else UNBOUNDED) for n, out in enumerate(outs)]


def _overlap(a: Interval, b: Interval) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


# ---- segments -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    key: str
    start: int
    end: int
    levels: tuple[ActivityLevel, ...]
    absence_id: int | None
    edited: bool
    guessed: bool  # the system chose a boundary: generated clocking or implicit close


def _activity_segments(
    active: Sequence[DayClocking], presence: Sequence[DayClocking]
) -> list[_Segment]:
    """Activity opens a segment; the next Activity or ActivityEnd closes it. An
    ActivityEnd with nothing open ends nothing (a day with only an activity end)."""
    segments: list[_Segment] = []
    opened: DayClocking | None = None
    for clocking in (c for c in active if c.kind in _ACTIVITY_KINDS):
        if opened is not None:
            segments.append(_activity_segment(opened, clocking, implicit=False))
            opened = None
        if clocking.kind == ClockingKind.ACTIVITY:
            opened = clocking
    last_out = presence[-1] if presence and len(presence) % 2 == 0 else None
    if opened is not None and last_out is not None and last_out.time > opened.time:
        segments.append(_activity_segment(opened, last_out, implicit=True))
    return segments


def _activity_segment(opened: DayClocking, closer: DayClocking, *, implicit: bool) -> _Segment:
    ids = "/".join(level.activity_definition_id for level in opened.activity_levels)
    return _Segment(
        key=f"activity:{ids}",
        start=opened.time,
        end=closer.time,
        levels=opened.activity_levels,
        absence_id=None,
        edited=opened.is_edited or closer.is_edited,
        guessed=implicit or opened.is_generated or closer.is_generated,
    )


def _absence_segments(presence: Sequence[DayClocking], shift: ShiftWindow | None) -> list[_Segment]:
    """A Reason clocking at an out position starts an absence until the next presence
    clocking. With none after it, an open leave (isOpen) lasts to the shift's end; a
    leave with a return still to come counts nothing yet."""
    segments = []
    for index in range(1, len(presence), 2):
        leave = presence[index]
        if leave.kind != ClockingKind.REASON or leave.reason_id is None:
            continue
        back = presence[index + 1] if index + 1 < len(presence) else None
        if back is not None:
            end, edited, guessed = back.time, back.is_edited, back.is_generated
        elif leave.is_open and shift is not None and shift.end > leave.time:
            end, edited, guessed = shift.end, False, False
        else:
            continue
        segments.append(
            _Segment(
                key=f"absence:{leave.reason_id}",
                start=leave.time,
                end=end,
                levels=(),
                absence_id=leave.reason_id,
                edited=leave.is_edited or edited,
                guessed=leave.is_generated or guessed,
            )
        )
    return segments


def _totals(
    segments: Sequence[_Segment], away: Sequence[Interval], counters: CounterLinks
) -> tuple[ActivityDurationTotal, ...]:
    by_key: dict[str, list[_Segment]] = {}
    for segment in sorted(segments, key=lambda s: (s.start, s.key)):
        by_key.setdefault(segment.key, []).append(segment)
    totals = []
    for key, group in by_key.items():
        first = group[0]
        minutes = sum(_counted_minutes(s, away) for s in group)
        totals.append(
            ActivityDurationTotal(
                key=key,
                duration_minutes=minutes,
                activity_levels=first.levels,
                absence_definition_id=first.absence_id,
                counter_definition_ids=_counters_of(first, counters),
                status=DurationStatus.MANUAL
                if any(s.edited for s in group)
                else DurationStatus.AUTO,
                is_authorized=not any(s.guessed for s in group),
            )
        )
    return tuple(totals)


def _counted_minutes(segment: _Segment, away: Sequence[Interval]) -> int:
    """An activity counts only while the person is clocked in; an absence counts whole."""
    length = segment.end - segment.start
    if segment.absence_id is not None:
        return length
    return length - sum(_overlap((segment.start, segment.end), gap) for gap in away)


def _counters_of(segment: _Segment, counters: CounterLinks) -> tuple[int, ...]:
    found: set[int] = set()
    if segment.absence_id is not None:
        found.update(counters.absences.get(segment.absence_id, ()))
    for level in segment.levels:
        found.update(counters.activities.get(level.activity_definition_id, ()))
    return tuple(sorted(found))
