"""A tenant's clock as a frozen value, changed by pure functions (as ``sync/_state.py``).

The stored setting is an offset from the wall clock, or a moment the clock stands still
at. It is read once per API request (with the rest of the request's one read of its
tenant, ``server/_tenant_now.py``: a primary-key lookup), so
every worker follows a change at the next request: no worker keeps a copy.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from chronodelta.server._clock import as_utc, utc_now

ZERO = dt.timedelta(0)
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_HELP = "a duration such as 73h, 30m, 2d or 1d12h (days, hours, minutes, seconds)"


@dataclass(frozen=True, slots=True)
class TenantClock:
    """How a tenant's time relates to the wall clock, as one request sees it.

    ``offset``: the tenant's time is the wall clock plus this. ``frozen_at``: the
    tenant's time stands still there instead. ``anchored``: an operator set it to a
    time, so "today" is that time's date even where ``CHRONODELTA_TODAY`` pins the
    server's (docs/sandbox.md, "Time"). ``pinned_today``: that pinned date, if any.
    """

    offset: dt.timedelta = ZERO
    frozen_at: dt.datetime | None = None
    anchored: bool = False
    pinned_today: dt.date | None = None

    @property
    def moved(self) -> bool:
        """Whether an operator moved it (else it is the wall clock)."""
        return self.offset != ZERO or self.frozen_at is not None or self.anchored

    def at(self, wall: dt.datetime) -> dt.datetime:
        """The tenant's time when the wall clock shows ``wall``."""
        return self.frozen_at if self.frozen_at is not None else wall + self.offset

    def now(self, wall: Callable[[], dt.datetime] = utc_now) -> dt.datetime:
        return self.at(wall())

    def today(self, wall: Callable[[], dt.datetime] = utc_now) -> dt.date:
        """The date the delta rules count from ("start in the past", contract "Delta").

        Unmoved: ``CHRONODELTA_TODAY`` or the real date, as before. Moved by ``advance``
        alone: that date moved by as many days as the clock moved the calendar (so a
        pinned sandbox date follows ``clock advance 2d``). Set to a time: its date.
        """
        if not self.moved:
            return self.pinned_today or dt.date.today()  # Settings.today(), unchanged
        wall_now = wall()
        tenant_now = self.at(wall_now)
        if self.anchored or self.pinned_today is None:
            return tenant_now.date()
        return self.pinned_today + (tenant_now.date() - wall_now.date())


WALL_CLOCK = TenantClock()
MICROSECOND = dt.timedelta(microseconds=1)


def clock_from_row(
    offset_microseconds: int | None, frozen_at: dt.datetime | None, anchored: bool | None
) -> TenantClock:
    """A clock from its stored row's columns; the wall clock when it has no row (None)."""
    if offset_microseconds is None:
        return WALL_CLOCK
    frozen = as_utc(frozen_at) if frozen_at is not None else None
    return TenantClock(offset_microseconds * MICROSECOND, frozen, bool(anchored))


def with_pinned_today(clock: TenantClock, pinned_today: dt.date | None) -> TenantClock:
    """``clock`` in a server whose today ``CHRONODELTA_TODAY`` pins (None: not pinned)."""
    if pinned_today is None:
        return clock
    return TenantClock(clock.offset, clock.frozen_at, clock.anchored, pinned_today)


def advanced(clock: TenantClock, by: dt.timedelta) -> TenantClock:
    """``clock`` moved ``by`` forward (a frozen clock stays frozen, later)."""
    if by < ZERO:
        raise ValueError("a clock only advances; to go back, use clock set or clock reset")
    if clock.frozen_at is not None:
        return replace(clock, frozen_at=clock.frozen_at + by)
    return replace(clock, offset=clock.offset + by)


def set_to(
    clock: TenantClock, moment: dt.datetime, wall_now: dt.datetime, *, frozen: bool
) -> TenantClock:
    """``clock`` showing ``moment`` at wall time ``wall_now``: running on from there, or
    standing still there when ``frozen``."""
    if moment.tzinfo is None:
        raise ValueError(naive_message(moment.isoformat()))
    moment = moment.astimezone(dt.UTC)
    if frozen:
        return replace(clock, offset=ZERO, frozen_at=moment, anchored=True)
    return replace(clock, offset=moment - wall_now, frozen_at=None, anchored=True)


def reset(clock: TenantClock) -> TenantClock:
    """The wall clock again."""
    return replace(clock, offset=ZERO, frozen_at=None, anchored=False)


def parse_duration(text: str) -> dt.timedelta:
    """``73h``, ``30m``, ``2d``, ``1d12h30m``, ``90s``; ValueError with the reason otherwise."""
    cleaned = text.strip().lower()
    if cleaned.startswith("-"):
        raise ValueError(
            f"{text!r} is negative: a clock only advances; to go back, use clock set or clock reset"
        )
    found = _DURATION.fullmatch(cleaned)
    if not cleaned or found is None or not any(found.groups()):
        raise ValueError(f"{text!r} is not {DURATION_HELP}")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    try:
        return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def parse_moment(text: str) -> dt.datetime:
    """An ISO 8601 time with its offset (``2026-03-02T09:00:00+01:00`` or ``...Z``)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time such as 2026-03-02T09:00:00+01:00"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(naive_message(text))
    return moment


def naive_message(text: str) -> str:
    return (
        f"{text!r} has no UTC offset, so it names no moment: "
        "add one, such as 2026-03-02T09:00:00+01:00 or 2026-03-02T08:00:00Z"
    )
