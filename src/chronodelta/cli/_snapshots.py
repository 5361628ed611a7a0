"""``tenants reset|snapshot|restore|snapshots|delete-snapshot`` (docs/sandbox.md).

Issue 13, item 4: start every test run from the same data. The commands work on the
database directly; the admin API (``/admin/tenants/{tenant}/...``) does the same
through a running server. Both call the same library functions.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ._admin import tenants_app
from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

if TYPE_CHECKING:
    from chronodelta.server import RestoreResult

TenantArgument = Annotated[str, typer.Argument(help="The tenant, e.g. acme.")]
NameArgument = Annotated[str, typer.Argument(help="The snapshot's name, e.g. before-run.")]


@tenants_app.command("reset")
def tenants_reset(
    tenant: TenantArgument, database: DatabaseOption = None, json: JsonOption = False
) -> None:
    """Restore the tenant's seeded state; API clients, webhooks and settings stay.

    Open deltas of the tenant answer 410 afterwards.

    Example: chronodelta tenants reset acme
    """
    from chronodelta.server import AdminError, reset_tenant

    started = time.perf_counter()
    with engine_for(database) as engine:
        try:
            result = reset_tenant(engine, tenant)
        except AdminError as exc:
            raise fail(str(exc)) from None
    _print_restored(result, "its seeded state", time.perf_counter() - started, json=json)


@tenants_app.command("snapshot")
def tenants_snapshot(
    tenant: TenantArgument,
    name: NameArgument,
    replace: Annotated[bool, typer.Option(help="Replace a snapshot of that name.")] = False,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Save the tenant's current state (records, references, org tree) under a name.

    Example: chronodelta tenants snapshot acme before-run
    """
    from chronodelta.server import AdminError, snapshot_tenant

    with engine_for(database) as engine:
        try:
            info = snapshot_tenant(engine, tenant, name, replace=replace)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(info)
    else:
        console.print(f"saved snapshot [bold]{info.name}[/] of {info.tenant} ({info.rows} rows)")


@tenants_app.command("restore")
def tenants_restore(
    tenant: TenantArgument,
    name: NameArgument,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Bring the tenant back to a snapshot; open deltas answer 410 afterwards.

    Example: chronodelta tenants restore acme before-run
    """
    from chronodelta.server import AdminError, restore_tenant

    started = time.perf_counter()
    with engine_for(database) as engine:
        try:
            result = restore_tenant(engine, tenant, name)
        except AdminError as exc:
            raise fail(str(exc)) from None
    _print_restored(result, f"snapshot {name}", time.perf_counter() - started, json=json)


@tenants_app.command("snapshots")
def tenants_snapshots(
    tenant: TenantArgument, database: DatabaseOption = None, json: JsonOption = False
) -> None:
    """List the tenant's snapshots (``seeded`` is the one ``tenants reset`` restores).

    Example: chronodelta tenants snapshots acme --json
    """
    from chronodelta.server import AdminError, list_snapshots

    with engine_for(database) as engine:
        try:
            found = list_snapshots(engine, tenant)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(found)
        return
    table = Table("name", "created", "rows", "seed")
    for info in found:
        seed = info.seed
        text = "" if seed is None else f"people={seed.people} days={seed.days} seed={seed.seed}"
        if seed is not None:
            text += f" until={seed.until.isoformat()}"
        table.add_row(
            info.name, info.created_at.isoformat(timespec="seconds"), str(info.rows), text
        )
    console.print(table)


@tenants_app.command("delete-snapshot")
def tenants_delete_snapshot(
    tenant: TenantArgument, name: NameArgument, database: DatabaseOption = None
) -> None:
    """Delete one of the tenant's snapshots.

    Example: chronodelta tenants delete-snapshot acme before-run
    """
    from chronodelta.server import AdminError, delete_snapshot

    with engine_for(database) as engine:
        try:
            delete_snapshot(engine, tenant, name)
        except AdminError as exc:
            raise fail(str(exc)) from None
    console.print(f"deleted snapshot [bold]{name}[/] of {tenant}")


def _print_restored(result: RestoreResult, what: str, seconds: float, *, json: bool) -> None:
    if json:
        print_json({**dataclasses.asdict(result), "seconds": round(seconds, 3)})
        return
    console.print(
        f"restored {result.tenant} to {what} in {seconds:.2f} s: {result.deleted} records "
        f"deleted, {result.updated} updated, {result.inserted} inserted; "
        f"{result.deltas_ended} open deltas ended",
        markup=False,
    )
