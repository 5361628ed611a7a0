"""``operators``: who may use the ``/admin`` API and the console (docs/sandbox.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import DatabaseOption, JsonOption, console, engine_for, fail, print_json

operators_app = typer.Typer(
    help="Operators of the sandbox controls (the /admin API and the console).",
    no_args_is_help=True,
)


@operators_app.command("set-password")
def operators_set_password(
    name: Annotated[str, typer.Argument(help="The operator's name, e.g. admin.")],
    database: DatabaseOption = None,
    json: JsonOption = False,
) -> None:
    """Create an operator, or give one a new password (printed once, never kept).

    Example: chronodelta operators set-password admin
    """
    from chronodelta.server import AdminError, set_operator_password

    with engine_for(database) as engine:
        try:
            new = set_operator_password(engine, name)
        except AdminError as exc:
            raise fail(str(exc)) from None
    if json:
        print_json({"name": new.name, "password": new.password})
    else:
        console.print(f"operator {new.name}, password (store it now): {new.password}", markup=False)


@operators_app.command("list")
def operators_list(database: DatabaseOption = None, json: JsonOption = False) -> None:
    """The operators' names (never a password or its hash).

    Example: chronodelta operators list --json
    """
    from chronodelta.server import list_operators

    with engine_for(database) as engine:
        names = list_operators(engine)
    if json:
        print_json([{"name": name} for name in names])
    else:
        for name in names:
            console.print(name, markup=False)
