"""``clock``: a tenant's sandbox clock (docs/sandbox.md, "Time").

The commands write the database; a running server follows at its next request, in
every worker (each request reads its tenant's clock).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

if TYPE_CHECKING:
    from chronodelta.server import ClockInfo

clock_app = typer.Typer(
    help="A tenant's sandbox clock: deltas, tokens, webhooks and 'today' follow it.",
    no_args_is_help=True,
)
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant, e.g. acme.")]
# "-5h" must reach parse_duration (a clear refusal), not be taken for an option.
_NEGATIVE_AS_ARGUMENT = {"ignore_unknown_options": True}


def _pinned_today() -> dt.date | None:
    """``CHRONODELTA_TODAY`` as this command sees it (it shapes the ``today`` shown)."""
    from chronodelta.server import Settings

    try:
        return Settings().today_override
    except ValueError as exc:
        raise fail(str(exc)) from None


def _print(shown: list[ClockInfo], json: bool) -> None:
    if json:
        print_json(shown if len(shown) != 1 else shown[0])
        return
    table = Table("tenant", "now (tenant time)", "today", "offset", "mode")
    for info in shown:
        mode = "frozen" if info.frozen else ("set" if info.anchored else "running")
        table.add_row(
            info.tenant,
            info.now.isoformat(timespec="seconds"),
            info.today.isoformat(),
            _offset_text(info.offset_seconds),
            mode if info.offset_seconds or info.frozen or info.anchored else "wall clock",
        )
    console.print(table)


def _offset_text(seconds: float) -> str:
    sign, left = ("-" if seconds < 0 else "+"), int(abs(seconds))
    days, left = divmod(left, 86400)
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    return f"{sign}{days}d{hours:02d}h{minutes:02d}m{secs:02d}s"


@clock_app.command("advance", context_settings=_NEGATIVE_AS_ARGUMENT)
def clock_advance(
    duration: Annotated[str, typer.Argument(help="73h, 30m, 2d, 1d12h, 90s.")],
    tenant: TenantOption,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Move a tenant's time forward (never back: use set or reset for that).

    Example: chronodelta clock advance --tenant acme 73h
    """
    from chronodelta.server import AdminError, advance_clock, parse_duration

    pinned = _pinned_today()
    with engine_for(database) as engine:
        try:
            info = advance_clock(engine, tenant, parse_duration(duration), pinned_today=pinned)
        except (AdminError, ValueError) as exc:
            raise fail(str(exc)) from None
    _print([info], json)


@clock_app.command("set")
def clock_set(
    moment: Annotated[
        str, typer.Argument(help="ISO 8601 with its offset, e.g. 2026-03-02T09:00Z.")
    ],
    tenant: TenantOption,
    frozen: Annotated[
        bool, typer.Option("--frozen", help="Stand still at that time (until advanced).")
    ] = False,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Make a tenant's time this moment now; it runs on from there (or stands still).

    Example: chronodelta clock set --tenant acme 2026-03-02T09:00:00+01:00
    """
    from chronodelta.server import AdminError, parse_moment, set_clock

    pinned = _pinned_today()
    with engine_for(database) as engine:
        try:
            info = set_clock(
                engine,
                tenant,
                parse_moment(moment),
                frozen=frozen,
                pinned_today=pinned,
            )
        except (AdminError, ValueError) as exc:
            raise fail(str(exc)) from None
    _print([info], json)


@clock_app.command("reset")
def clock_reset(
    tenant: TenantOption, database: DatabaseOption = None, json: JsonOption = False
) -> None:
    """Put a tenant back on the wall clock.

    Example: chronodelta clock reset --tenant acme
    """
    from chronodelta.server import AdminError, reset_clock

    pinned = _pinned_today()
    with engine_for(database) as engine:
        try:
            info = reset_clock(engine, tenant, pinned_today=pinned)
        except AdminError as exc:
            raise fail(str(exc)) from None
    _print([info], json)


@clock_app.command("show")
def clock_show(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Show the tenants' clocks: their time now, their 'today', the offset.

    Example: chronodelta clock show --tenant acme --json
    """
    from chronodelta.server import AdminError, show_clocks

    pinned = _pinned_today()
    with engine_for(database) as engine:
        try:
            infos = show_clocks(engine, tenant, pinned_today=pinned)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json and tenant is None:
        print_json(infos)
        return
    _print(infos, json)
