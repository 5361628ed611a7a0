"""``chronodelta clock`` and ``chronodelta deltas`` on the database (issue 13, item 1),
on both databases. What a running server does with them: tests/server/clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from chronodelta.cli import app

runner = CliRunner()


def run(database_url: str, *args: str, ok: bool = True) -> str:
    result = runner.invoke(app, [*args, "--database", database_url])
    assert (result.exit_code == 0) is ok, result.output
    return result.output


@pytest.fixture
def tenant(database_url: str) -> str:
    run(database_url, "tenants", "create", "acme")
    return database_url


def shown(database_url: str, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(run(database_url, "clock", *args, "--json"))
    return found


def test_advance_set_show_and_reset(tenant: str) -> None:
    assert shown(tenant, "advance", "--tenant", "acme", "73h")["offset_seconds"] >= 73 * 3600 - 1
    assert shown(tenant, "advance", "--tenant", "acme", "1d12h")["offset_seconds"] >= 109 * 3600 - 1
    frozen = shown(tenant, "set", "--tenant", "acme", "2027-03-02T09:00:00+01:00", "--frozen")
    assert frozen["now"] == "2027-03-02T08:00:00+00:00" and frozen["frozen"]
    assert frozen["today"] == "2027-03-02"
    (listed,) = json.loads(run(tenant, "clock", "show", "--json"))
    assert listed["tenant"] == "acme" and listed["now"] == frozen["now"]
    assert "2027-03-02T08:00:00" in run(tenant, "clock", "show", "--tenant", "acme")
    reset = shown(tenant, "reset", "--tenant", "acme")
    assert reset["offset_seconds"] == 0 and not reset["frozen"] and not reset["anchored"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("advance", "--tenant", "acme", "-5h"), "negative"),
        (("advance", "--tenant", "acme", "soon"), "not a duration"),
        (("set", "--tenant", "acme", "2027-01-01T00:00:00"), "no UTC offset"),
        (("advance", "--tenant", "nobody", "1h"), "no tenant named 'nobody'"),
        (("show", "--tenant", "nobody"), "no tenant named 'nobody'"),
    ],
)
def test_refusals_say_why_and_change_nothing(
    tenant: str, args: tuple[str, ...], message: str
) -> None:
    output = " ".join(run(tenant, "clock", *args, ok=False).split())
    assert message in output
    assert shown(tenant, "show", "--tenant", "acme")["offset_seconds"] == 0


def test_deltas_list_and_expire_on_a_tenant_without_deltas(tenant: str) -> None:
    assert json.loads(run(tenant, "deltas", "list", "--tenant", "acme", "--json")) == []
    output = " ".join(
        run(tenant, "deltas", "expire", "--tenant", "acme", "--id", "5", ok=False).split()
    )
    assert "no delta 5" in output
    assert "no tenant" in run(tenant, "deltas", "list", "--tenant", "nobody", ok=False)
