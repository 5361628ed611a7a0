"""``faults``: make a tenant's API calls fail on purpose (docs/sandbox.md, "Faults")."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

faults_app = typer.Typer(
    help="Fault rules: injected errors, latency and cut responses for a tenant's API calls.",
    no_args_is_help=True,
)
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant whose calls to affect.")]


@faults_app.command("add")
def faults_add(
    tenant: TenantOption,
    client: Annotated[str | None, typer.Option(help="Only this API client's calls.")] = None,
    method: Annotated[str | None, typer.Option(help="Only this method (GET, POST, ...).")] = None,
    path: Annotated[
        str | None, typer.Option(help="Only paths matching this glob, e.g. '*/clockings*'.")
    ] = None,
    status: Annotated[
        int | None, typer.Option(help="Answer this status, in the API's error format.")
    ] = None,
    retry_after: Annotated[
        int | None, typer.Option(help="Retry-After seconds with --status (429/503: 1).")
    ] = None,
    latency_ms: Annotated[
        int | None, typer.Option(help="Add this many milliseconds before the answer.")
    ] = None,
    drop: Annotated[
        bool, typer.Option("--drop", help="Close the connection in the middle of the body.")
    ] = False,
    count: Annotated[
        int | None, typer.Option(help="Fire for this many calls in all (exact across workers).")
    ] = None,
    probability: Annotated[
        float | None, typer.Option(help="Fire for this share of the matching calls, 0 to 1.")
    ] = None,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Add a fault rule; running servers apply it from the next call, in every worker.

    Example: chronodelta faults add --tenant acme --path '*/clockings*' --status 503 --count 2
    """
    from chronodelta.server import AdminError, FaultSpec, add_fault_rule
    from chronodelta.server.faults._routes import fault_rule_json

    spec = FaultSpec(
        client, method, path, status, retry_after, latency_ms, drop, count, probability
    )
    with engine_for(database) as engine:
        try:
            rule = add_fault_rule(engine, tenant, spec)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json(fault_rule_json(rule))
    else:
        console.print(f"fault rule {rule.id} added to {tenant}: {rule.describe()}", markup=False)


@faults_app.command("list")
def faults_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's rules.")] = None,
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """List fault rules, oldest first (the order in which they are tried).

    Example: chronodelta faults list --tenant acme --json
    """
    from chronodelta.server import AdminError, list_fault_rules
    from chronodelta.server.faults._routes import fault_rule_json

    with engine_for(database) as engine:
        try:
            rules = list_fault_rules(engine, tenant)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json([fault_rule_json(rule) for rule in rules])
        return
    table = Table("id", "tenant", "client", "method", "path", "does", "left")
    for rule in rules:
        left = "unlimited" if rule.remaining is None else str(rule.remaining)
        if rule.probability is not None:
            left = f"p={rule.probability:g}"
        table.add_row(
            str(rule.id),
            rule.tenant,
            rule.client_id or "*",
            rule.method or "*",
            rule.path_glob or "*",
            rule.describe(),
            left,
        )
    console.print(table)


@faults_app.command("clear")
def faults_clear(
    tenant: TenantOption,
    rule_id: Annotated[int | None, typer.Option("--id", help="Only this rule.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Remove a tenant's fault rules (or one of them).

    Example: chronodelta faults clear --tenant acme --id 3
    """
    from chronodelta.server import AdminError, clear_fault_rules

    with engine_for(database) as engine:
        try:
            removed = clear_fault_rules(engine, tenant, rule_id)
        except AdminError as exc:
            raise fail(str(exc)) from None
    console.print(f"removed {removed} fault rule(s) of {tenant}", markup=False)
