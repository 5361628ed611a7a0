"""``tenants reset|snapshot|restore|snapshots|delete-snapshot`` from the CLI (issue 13,
item 4), on both databases: they work on the database directly, with clear messages
for an unknown tenant or snapshot. The same operations over HTTP, against a running
server, are tested in tests/server/snapshots/.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.storage import create_engine, tables

runner = CliRunner()


def run(database_url: str, *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, [*args, "--database", database_url])
    assert (result.exit_code == 0) is ok, result.output
    return " ".join(result.output.split())  # rich wraps long lines


def clockings(database_url: str) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = sa.select(tables.clockings.c.id, tables.clockings.c.time_of_day)
            return list(connection.execute(query.order_by(tables.clockings.c.id)).all())
    finally:
        engine.dispose()


def change_a_clocking(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                tables.clockings.update().where(tables.clockings.c.id == 1).values(time_of_day=3)
            )
    finally:
        engine.dispose()


@pytest.fixture
def seeded(database_url: str) -> str:
    run(database_url, "tenants", "create", "acme")
    run(database_url, "seed", "--tenant", "acme", "--people", "2", "--days", "3")
    run(database_url, "seed", "--tenant", "acme", "--people", "2", "--days", "3", ok=False)
    return database_url


def test_reset_snapshot_restore_and_list(seeded: str) -> None:
    original = clockings(seeded)
    listed = json.loads(run(seeded, "tenants", "snapshots", "acme", "--json"))
    assert [s["name"] for s in listed] == ["seeded"]
    assert listed[0]["seed"]["people"] == 2 and listed[0]["seed"]["days"] == 3
    change_a_clocking(seeded)
    assert clockings(seeded) != original
    output = run(seeded, "tenants", "reset", "acme")
    assert "restored acme to its seeded state" in output and "1 updated" in output
    assert clockings(seeded) == original
    run(seeded, "tenants", "snapshot", "acme", "before-run")
    change_a_clocking(seeded)
    changed = clockings(seeded)
    restored = json.loads(run(seeded, "tenants", "reset", "acme", "--json"))
    assert restored["updated"] == 1 and restored["snapshot"] == "seeded"
    assert (
        json.loads(run(seeded, "tenants", "restore", "acme", "before-run", "--json"))["updated"]
        == 0
    )
    assert clockings(seeded) == original != changed
    assert "before-run" in run(seeded, "tenants", "snapshots", "acme")
    run(seeded, "tenants", "delete-snapshot", "acme", "before-run")
    assert [
        s["name"] for s in json.loads(run(seeded, "tenants", "snapshots", "acme", "--json"))
    ] == ["seeded"]


def test_clear_messages_for_unknown_tenants_and_snapshots(seeded: str) -> None:
    no_tenant = "no tenant named 'nope'"
    for command in (
        ["reset", "nope"],
        ["snapshot", "nope", "x"],
        ["restore", "nope", "x"],
        ["snapshots", "nope"],
        ["delete-snapshot", "nope", "x"],
    ):
        assert no_tenant in run(seeded, "tenants", *command, ok=False), command
    assert "has no snapshot 'x'" in run(seeded, "tenants", "restore", "acme", "x", ok=False)
    assert "has no snapshot 'x'" in run(seeded, "tenants", "delete-snapshot", "acme", "x", ok=False)
    assert "already has a snapshot 'seeded'" in run(
        seeded, "tenants", "snapshot", "acme", "seeded", ok=False
    )
    assert "invalid snapshot name" in run(seeded, "tenants", "snapshot", "acme", "a b", ok=False)
    run(seeded, "tenants", "create", "empty")
    assert "has no seeded state to reset to" in run(seeded, "tenants", "reset", "empty", ok=False)
    # Replacing a snapshot is asked for explicitly; then the reset restores the new one.
    run(seeded, "tenants", "snapshot", "empty", "seeded")
    assert "0 updated" in run(seeded, "tenants", "reset", "empty")
