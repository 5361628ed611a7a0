"""The root ``chronodelta`` command: wires the sub-commands together."""

from __future__ import annotations

import typer

import chronodelta

from . import _snapshots as _snapshots  # adds reset, snapshot, restore... to tenants
from ._admin import (
    clients_app,
    db_app,
    keys_app,
    recalculate,
    retention_app,
    seed,
    tenants_app,
)
from ._clock import clock_app
from ._deltas import deltas_app
from ._faults import faults_app
from ._operators import operators_app
from ._requests import requests
from ._serve import serve
from ._sync import sync_app

app = typer.Typer(
    name="chronodelta",
    help="The Protime Connector API with delta synchronization: server and tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("seed")(seed)
app.command("recalculate")(recalculate)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
app.add_typer(operators_app, name="operators")
app.add_typer(clock_app, name="clock")
app.add_typer(deltas_app, name="deltas")
app.add_typer(faults_app, name="faults")
app.command("requests")(requests)
app.add_typer(sync_app, name="sync")


def _version(value: bool) -> None:
    if value:
        typer.echo(chronodelta.__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """The Protime Connector API with delta synchronization: server and tools."""


def main() -> None:
    app()
