"""``deltas``: a tenant's deltas for the operator (docs/sandbox.md, "Deltas")."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

deltas_app = typer.Typer(help="A tenant's deltas: list them, expire one.", no_args_is_help=True)
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant, e.g. acme.")]


def _ttl() -> dt.timedelta:
    """The delta lifetime, from CHRONODELTA_DELTA_TTL_SECONDS as the server reads it."""
    from chronodelta.server import Settings

    try:
        return dt.timedelta(seconds=Settings().delta_ttl_seconds)
    except ValueError as exc:
        raise fail(str(exc)) from None


def _left(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if seconds > 0 else "expired"


@deltas_app.command("list")
def deltas_list(
    tenant: TenantOption, database: DatabaseOption = None, json: JsonOption = False
) -> None:
    """List a tenant's deltas: client, collection, last use and time left (tenant time).

    Example: chronodelta deltas list --tenant acme --json
    """
    from chronodelta.server import AdminError, list_deltas

    ttl = _ttl()
    with engine_for(database) as engine:
        try:
            infos = list_deltas(engine, tenant, ttl=ttl)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(infos)
        return
    table = Table("id", "client", "collection", "status", "last use (tenant time)", "time left")
    for info in infos:
        left = _left(info.seconds_left) if info.status == "active" else "-"
        table.add_row(
            str(info.id),
            info.client_id,
            info.collection,
            info.status,
            info.last_used_at.isoformat(timespec="seconds"),
            left,
        )
    console.print(table)


@deltas_app.command("expire")
def deltas_expire(
    tenant: TenantOption,
    delta_id: Annotated[int, typer.Option("--id", help="The delta's id (deltas list).")],
    database: DatabaseOption = None,
) -> None:
    """Expire one delta now: its links answer 410 from the next request on.

    Example: chronodelta deltas expire --tenant acme --id 12
    """
    from chronodelta.server import AdminError, expire_delta

    with engine_for(database) as engine:
        try:
            expire_delta(engine, tenant, delta_id)
        except AdminError as exc:
            raise fail(str(exc)) from None
    console.print(f"expired delta {delta_id} of {tenant}; its links now answer 410")
