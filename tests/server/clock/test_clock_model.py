"""The tenant clock's value and its pure changes (issue 13, item 1; docs/sandbox.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from chronodelta.server import TenantClock, parse_duration, parse_moment
from chronodelta.server.clock._model import advanced, reset, set_to

WALL = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)


def wall() -> dt.datetime:
    return WALL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("73h", dt.timedelta(hours=73)),
        ("30m", dt.timedelta(minutes=30)),
        ("2d", dt.timedelta(days=2)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("1d2h3m4s", dt.timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 90S ", dt.timedelta(seconds=90)),
    ],
)
def test_durations_as_the_issue_writes_them(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("-5h", "negative"),
        ("", "duration"),
        ("5", "duration"),
        ("1h1d", "duration"),
        ("3w", "duration"),
        ("99999999999d", "too long"),
    ],
)
def test_bad_durations_are_refused_with_the_reason(text: str, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        parse_duration(text)


def test_a_time_needs_its_offset() -> None:
    assert parse_moment("2026-03-02T09:00:00+01:00") == dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    assert parse_moment("2026-03-02T08:00:00Z").utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_moment("2026-03-02T09:00:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_moment("next tuesday")


def test_advance_set_and_reset() -> None:
    clock = advanced(TenantClock(), dt.timedelta(hours=73))
    assert clock.now(wall) == WALL + dt.timedelta(hours=73)
    with pytest.raises(ValueError, match="only advances"):
        advanced(clock, dt.timedelta(seconds=-1))
    moment = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    running = set_to(clock, moment, WALL, frozen=False)
    assert running.at(WALL) == moment and running.at(WALL + dt.timedelta(hours=1)) > moment
    frozen = set_to(clock, moment, WALL, frozen=True)
    assert frozen.at(WALL + dt.timedelta(days=9)) == moment
    assert advanced(frozen, dt.timedelta(days=1)).at(WALL) == moment + dt.timedelta(days=1)
    assert reset(frozen) == TenantClock() and not reset(frozen).moved


def test_today_with_and_without_a_pinned_date() -> None:
    # Unmoved: CHRONODELTA_TODAY (or the real date), as before.
    pinned = dt.date(2025, 6, 1)
    assert TenantClock(pinned_today=pinned).today(wall) == pinned
    # Advanced: the pinned date moves by as many days as the calendar did (22:30 + 2 h
    # crosses midnight once).
    moved = TenantClock(offset=dt.timedelta(hours=2), pinned_today=pinned)
    assert moved.today(wall) == dt.date(2025, 6, 2)
    assert TenantClock(offset=dt.timedelta(hours=2)).today(wall) == dt.date(2026, 3, 11)
    # Set to a time: that time's date, pinned or not.
    anchored = set_to(moved, dt.datetime(2027, 1, 5, 12, tzinfo=dt.UTC), WALL, frozen=False)
    assert anchored.today(wall) == dt.date(2027, 1, 5)
