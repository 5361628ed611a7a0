"""``db``, ``tenants``, ``clients`` and ``seed``: operator commands.

Each command imports ``chronodelta.server`` when it runs, not when the CLI starts:
the server (FastAPI, pydantic, JWT, argon2) takes over a second to import, and
``chronodelta sync`` and ``--help`` need none of it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy.exc import OperationalError

from chronodelta.domain import KNOWN_SCOPES, Scope
from chronodelta.storage import resolve_database_url, upgrade

if TYPE_CHECKING:
    from chronodelta.server import NewClient

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(
    help="Tenants: each is an isolated Protime environment.", no_args_is_help=True
)
clients_app = typer.Typer(help="API clients (OAuth2 client credentials).", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that sign access tokens.", no_args_is_help=True)


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
        names = ", ".join(s.value for s in KNOWN_SCOPES)
        raise typer.BadParameter(f"unknown scope {value!r}; known: {names}") from None


@clients_app.command("create")
def clients_create(
    tenant: Annotated[str, typer.Option(help="The tenant the client belongs to.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope to allow (repeat; short form clockings.read works): any scope "
            "the vendor documents. Default: every scope this server serves."
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
    _print_secret(client)


def _print_secret(client: NewClient) -> None:
    console.print(f"client_id:     [bold]{client.client_id}[/]")
    console.print(f"client_secret: [bold]{client.client_secret}[/]  (store it now: it is not kept)")
    console.print("scopes:        " + " ".join(s.value for s in client.scopes))


ClientId = Annotated[str, typer.Argument(help="The client's id, e.g. cd-0123abcd.")]


@clients_app.command("list")
def clients_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's clients.")] = None,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """List API clients (never a secret).

    Example: chronodelta clients list --tenant acme --json
    """
    from chronodelta.server import AdminError, list_clients

    with engine_for(database) as engine:
        try:
            clients = list_clients(engine, tenant)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(clients)
        return
    table = Table("tenant", "client_id", "created", "state", "description")
    for c in clients:
        state = "revoked" if c.revoked_at else "active"
        if c.previous_secret_until and not c.revoked_at:
            state += f" (old secret until {c.previous_secret_until.isoformat(timespec='minutes')})"
        table.add_row(
            c.tenant, c.client_id, c.created_at.isoformat(timespec="seconds"), state, c.description
        )
    console.print(table)


@clients_app.command("revoke")
def clients_revoke(
    client_id: ClientId,
    tenant: Annotated[str, typer.Option(help="The tenant the client belongs to.")],
    database: DatabaseOption = None,
) -> None:
    """Revoke a client: its secret at once, its access tokens within seconds.

    Example: chronodelta clients revoke --tenant acme cd-0123abcd
    """
    from chronodelta.server import AdminError, revoke_client

    with engine_for(database) as engine:
        try:
            revoke_client(engine, tenant, client_id)
        except AdminError as exc:
            raise fail(str(exc)) from None
    console.print(f"revoked [bold]{client_id}[/]; its access tokens are refused within seconds")


@clients_app.command("rotate-secret")
def clients_rotate_secret(
    client_id: ClientId,
    tenant: Annotated[str, typer.Option(help="The tenant the client belongs to.")],
    grace_hours: Annotated[
        float, typer.Option(min=0, help="How long the old secret is still accepted.")
    ] = 24,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Give a client a new secret (shown only this once); the old one works for a while.

    Example: chronodelta clients rotate-secret --tenant acme cd-0123abcd --grace-hours 2
    """
    from chronodelta.server import AdminError, rotate_client_secret

    with engine_for(database) as engine:
        try:
            client = rotate_client_secret(
                engine, tenant, client_id, dt.timedelta(hours=grace_hours)
            )
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(client)
        return
    _print_secret(client)
    console.print(f"the previous secret is accepted for {grace_hours:g} more hours")


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
    """Recalculate a tenant's paid presences, activity durations and calculated totals.

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
    """Delete expired deltas and the change history no live delta needs, and webhook
    delivery attempts and ended webhooks past their retention (servers also do this
    every CHRONODELTA_RETENTION_INTERVAL_SECONDS).

    Example: chronodelta retention run --json
    """
    from chronodelta.server import Settings, WebhookRetention, run_retention

    settings = Settings(database_url=resolve_database_url(database))
    with engine_for(database) as engine:
        report = run_retention(
            engine,
            ttl=dt.timedelta(seconds=settings.delta_ttl_seconds),
            overlap=dt.timedelta(seconds=settings.delta_overlap_seconds),
            now=dt.datetime.now(dt.UTC),
            webhooks=WebhookRetention.from_settings(settings),
        )
    if json:
        print_json(report)
    else:
        console.print(
            f"removed {report.deltas} expired deltas, {report.departures} departures "
            f"and {report.change_marks} change marks; {report.webhooks} ended webhooks "
            f"and {report.webhook_deliveries} webhook delivery attempts"
        )


@keys_app.command("rotate")
def keys_rotate(database: DatabaseOption = None, json: JsonOption = False) -> None:
    """Add a signing key: new tokens are signed with it, older ones stay valid.

    Running servers sign with it from their next key refresh
    (CHRONODELTA_KEY_REFRESH_SECONDS); the previous key is still published and accepted
    until the tokens it signed have expired.

    Example: chronodelta keys rotate
    """
    from chronodelta.server import rotate_signing_key

    with engine_for(database) as engine:
        kid = rotate_signing_key(engine)
    if json:
        print_json({"kid": kid})
    else:
        console.print(f"added signing key [bold]{kid}[/]")


@keys_app.command("list")
def keys_list(database: DatabaseOption = None, json: JsonOption = False) -> None:
    """List the signing keys (their ids and dates; never the keys themselves).

    Example: chronodelta keys list --json
    """
    from chronodelta.server import list_signing_keys

    with engine_for(database) as engine:
        keys = list_signing_keys(engine)
    if json:
        print_json(keys)
        return
    table = Table("kid", "created", "superseded")
    for key in keys:
        superseded = key.superseded_at.isoformat(timespec="seconds") if key.superseded_at else ""
        table.add_row(key.kid, key.created_at.isoformat(timespec="seconds"), superseded)
    console.print(table)
