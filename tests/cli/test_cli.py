"""The CLI: a thin shell over the library, with help, examples and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.server.auth._clients import authenticate_client
from chronodelta.storage import create_engine, tables

runner = CliRunner()


def run(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def leaf_commands(group: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [
        (*prefix, c.name or c.callback.__name__) for c in group.registered_commands if c.callback
    ]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None and sub.name is not None
        found += leaf_commands(sub.typer_instance, (*prefix, sub.name))
    return found


def test_every_command_has_help_with_an_example() -> None:
    commands = leaf_commands(app)
    assert {
        ("serve",),
        ("seed",),
        ("db", "upgrade"),
        ("tenants", "create"),
        ("tenants", "list"),
        ("clients", "create"),
        ("retention", "run"),
    } <= set(commands)
    for command in commands:
        output = run(*command, "--help")
        assert "Example: chronodelta " + command[0] in output, command


def test_tenants_clients_and_seed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run("db", "upgrade", "--database", url)
    assert (
        json.loads(run("tenants", "create", "acme", "--database", url, "--json"))["name"] == "acme"
    )
    assert [t["name"] for t in json.loads(run("tenants", "list", "--database", url, "--json"))] == [
        "acme"
    ]
    client = json.loads(
        run(
            "clients",
            "create",
            "--tenant",
            "acme",
            "--scope",
            "clockings.read",
            "--database",
            url,
            "--json",
        )
    )
    assert client["scopes"] == ["connector-protimeapi-clockings.read"]
    engine = create_engine(url)
    verified = authenticate_client(engine, "acme", client["client_id"], client["client_secret"])
    assert verified.client_id == client["client_id"]
    seeded = json.loads(
        run(
            "seed",
            "--tenant",
            "acme",
            "--people",
            "4",
            "--days",
            "7",
            "--until",
            "2026-01-20",
            "--database",
            url,
            "--json",
        )
    )
    assert seeded["people"] == 4 and seeded["clockings"] > 0

    # Totals of clockings written before they existed (migration 0002): recalculate.
    with engine.begin() as connection:
        expected = totals(connection)
        assert expected["paid_presences"]
        for table in tables.TOTAL_TABLES.values():
            connection.execute(table.delete())
    output = run("recalculate", "--tenant", "acme", "--database", url, "--json")
    assert json.loads(output)["person_days"] == len(expected["paid_presences"])
    with engine.connect() as connection:
        assert totals(connection) == expected


def totals(connection: sa.Connection) -> dict[str, list[tuple[object, ...]]]:
    """The totals without ids and versions (a recalculation allocates new ones)."""
    found = {}
    for table in tables.TOTAL_TABLES.values():
        columns = [c for c in table.c if c.name not in ("id", "change_version")]
        rows = connection.execute(sa.select(*columns).order_by(*columns))
        found[table.name] = [tuple(row) for row in rows]
    return found


def test_the_secret_is_not_stored_in_clear(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run("db", "upgrade", "--database", url)
    run("tenants", "create", "acme", "--database", url)
    client = json.loads(run("clients", "create", "--tenant", "acme", "--database", url, "--json"))
    assert client["client_secret"].encode() not in (tmp_path / "cli.db").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tenants", "create", "Bad_Name"), "invalid tenant name"),
        (("clients", "create", "--tenant", "nobody"), "no tenant named 'nobody'"),
        (("clients", "create", "--tenant", "acme", "--scope", "coffee.read"), "unknown scope"),
        (("seed", "--tenant", "acme", "--until", "yesterday"), "YYYY-MM-DD"),
        (("tenants", "list", "--database", "mysql://x"), "unsupported database URL"),
    ],
)
def test_bad_input_gives_a_clear_message(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    run("db", "upgrade", "--database", url)
    run("tenants", "create", "acme", "--database", url)
    extra = () if "--database" in args else ("--database", url)
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
