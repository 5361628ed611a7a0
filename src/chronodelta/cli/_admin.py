"""``db``, ``tenants``, ``clients`` and ``seed``: operator commands.

Each command imports ``chronodelta.server`` when it runs, not when the CLI starts:
the server (FastAPI, pydantic, JWT, argon2) takes over a second to import, and
``chronodelta sync`` and ``--help`` need none of it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from chronodelta.domain import ALL_SCOPES, Scope
from chronodelta.storage import resolve_database_url, upgrade

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(
    help="Tenants: each is an isolated Protime environment.", no_args_is_help=True
)
clients_app = typer.Typer(help="API clients (OAuth2 client credentials).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate the schema to the latest version.

    Example: chronodelta db upgrade --database postgresql://chrono@127.0.0.1/chrono
    """
    with engine_for(database) as engine:
        try:
            upgrade(engine)
        except OperationalError as exc:
            raise fail(f"cannot reach the database: {exc.orig}") from None
    console.print("database is up to date")


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="Lower-case DNS label, e.g. acme.")],
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Create a tenant.

    Example: chronodelta tenants create acme
    """
    from chronodelta.server import AdminError, create_tenant

    with engine_for(database) as engine:
        try:
            tenant = create_tenant(engine, name)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(tenant)
    else:
        console.print(f"created tenant [bold]{tenant.name}[/]")


@tenants_app.command("list")
def tenants_list(database: DatabaseOption = None, json: JsonOption = False) -> None:
    """List the tenants.

    Example: chronodelta tenants list --json
    """
    from chronodelta.server import list_tenants

    with engine_for(database) as engine:
        tenants = list_tenants(engine)
    if json:
        print_json(tenants)
        return
    table = Table("name", "created")
    for tenant in tenants:
        table.add_row(tenant.name, tenant.created_at.isoformat(timespec="seconds"))
    console.print(table)


def _scope(value: str) -> Scope:
    try:
        return Scope(value if value.startswith("connector-") else f"connector-protimeapi-{value}")
    except ValueError:
        names = ", ".join(s.value for s in ALL_SCOPES)
        raise typer.BadParameter(f"unknown scope {value!r}; known: {names}") from None


@clients_app.command("create")
def clients_create(
    tenant: Annotated[str, typer.Option(help="The tenant the client belongs to.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope to allow (repeat; short form clockings.read works). Default: all."
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="Free text, e.g. who uses it.")] = "",
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Register an API client and print its id and secret (shown only this once).

    Example: chronodelta clients create --tenant acme --scope clockings.read --json
    """
    from chronodelta.server import AdminError, create_client

    scopes = [_scope(s) for s in scope] if scope else None
    with engine_for(database) as engine:
        try:
            client = create_client(engine, tenant, scopes, description)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(client)
        return
    console.print(f"client_id:     [bold]{client.client_id}[/]")
    console.print(f"client_secret: [bold]{client.client_secret}[/]  (store it now: it is not kept)")
    console.print("scopes:        " + " ".join(s.value for s in client.scopes))


def seed(
    tenant: Annotated[str, typer.Option(help="An existing, empty tenant.")],
    people: Annotated[int, typer.Option(min=1, max=100_000, help="How many people.")] = 25,
    days: Annotated[
        int, typer.Option(min=1, max=3660, help="Days of clockings, ending at --until.")
    ] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 1,
    until: Annotated[
        str | None, typer.Option(help="Last day with clockings, YYYY-MM-DD (default: today).")
    ] = None,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Fill a tenant with realistic, reproducible people, definitions and clockings.

    Example: chronodelta seed --tenant acme --people 50 --days 60 --seed 7
    """
    from chronodelta.server import AdminError, seed_tenant

    try:
        last_day = dt.date.fromisoformat(until) if until else dt.date.today()
    except ValueError:
        raise typer.BadParameter("--until must be a date written YYYY-MM-DD") from None
    with engine_for(database) as engine:
        try:
            result = seed_tenant(
                engine, tenant, people=people, days=days, seed=seed, until=last_day
            )
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(result)
    else:
        console.print(
            f"seeded {result.people} people and {result.clockings} clockings into {tenant}"
        )


def recalculate(
    tenant: Annotated[str, typer.Option(help="The tenant whose totals to recalculate.")],
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Recalculate a tenant's paid presences and activity durations from its clockings.

    Clocking writes keep the totals up to date by themselves; this is for clockings
    written before an upgrade that added totals, or after reference data (a person's
    shift) changed in the database. Totals that change get new changeVersions, so
    open deltas deliver them.

    Example: chronodelta recalculate --tenant acme
    """
    from chronodelta.server import AdminError, recalculate_tenant

    with engine_for(database) as engine:
        try:
            person_days = recalculate_tenant(engine, tenant)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json({"tenant": tenant, "person_days": person_days})
    else:
        console.print(f"recalculated {person_days} person-days of {tenant}")


retention_app = typer.Typer(help="Delta retention.", no_args_is_help=True)


@retention_app.command("run")
def retention_run(database: DatabaseOption = None, json: JsonOption = False) -> None:
    """Delete expired deltas and the change history no live delta needs (servers also do
    this every CHRONODELTA_RETENTION_INTERVAL_SECONDS).

    Example: chronodelta retention run --json
    """
    from chronodelta.server import Settings, run_retention

    settings = Settings(database_url=resolve_database_url(database))
    with engine_for(database) as engine:
        report = run_retention(
            engine,
            ttl=dt.timedelta(seconds=settings.delta_ttl_seconds),
            overlap=dt.timedelta(seconds=settings.delta_overlap_seconds),
            now=dt.datetime.now(dt.UTC),
        )
    if json:
        print_json(report)
    else:
        console.print(
            f"removed {report.deltas} expired deltas, {report.departures} departures "
            f"and {report.change_marks} change marks"
        )
