"""Operating API clients from the CLI: list, revoke, rotate a secret (issue 10, item 9).

On both databases. What the token endpoint does with revoked and rotated clients is
tested over HTTP in tests/server/auth/test_client_lifecycle.py.
"""

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
    run(database_url, "tenants", "create", "globex")
    return database_url


def created(database_url: str, tenant: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        run(database_url, "clients", "create", "--tenant", tenant, "--json")
    )
    return found


def test_clients_list_shows_every_client_and_never_a_secret(tenant: str) -> None:
    first, second = created(tenant, "acme"), created(tenant, "acme")
    other = created(tenant, "globex")
    listed = json.loads(run(tenant, "clients", "list", "--json"))
    assert [c["client_id"] for c in listed] == [
        first["client_id"],
        second["client_id"],
        other["client_id"],
    ]
    only_acme = json.loads(run(tenant, "clients", "list", "--tenant", "acme", "--json"))
    assert {c["client_id"] for c in only_acme} == {first["client_id"], second["client_id"]}
    for text in (json.dumps(listed), run(tenant, "clients", "list")):
        assert first["client_secret"] not in text and "secret_hash" not in text
        assert "argon2" not in text


def test_revoke_marks_the_client_and_is_idempotent(tenant: str) -> None:
    client = created(tenant, "acme")
    assert "revoked" in run(tenant, "clients", "revoke", "--tenant", "acme", client["client_id"])
    run(tenant, "clients", "revoke", "--tenant", "acme", client["client_id"])
    (listed,) = json.loads(run(tenant, "clients", "list", "--tenant", "acme", "--json"))
    assert listed["revoked_at"] is not None
    # A revoked client's secret cannot be rotated back to life.
    output = run(
        tenant, "clients", "rotate-secret", "--tenant", "acme", client["client_id"], ok=False
    )
    assert "revoked" in output


def test_rotate_secret_shows_a_new_secret_once_and_keeps_the_old_for_the_grace(
    tenant: str,
) -> None:
    client = created(tenant, "acme")
    command = ["clients", "rotate-secret", "--tenant", "acme", client["client_id"]]
    rotated = json.loads(run(tenant, *command, "--grace-hours", "2", "--json"))
    assert rotated["client_id"] == client["client_id"]
    assert rotated["client_secret"] != client["client_secret"]
    assert rotated["scopes"] == client["scopes"]
    (listed,) = json.loads(run(tenant, "clients", "list", "--tenant", "acme", "--json"))
    assert listed["previous_secret_until"] is not None and listed["revoked_at"] is None


def test_unknown_tenant_or_client_is_a_clear_message(tenant: str) -> None:
    output = run(tenant, "clients", "revoke", "--tenant", "acme", "cd-nobody", ok=False)
    assert "has no client 'cd-nobody'" in output
    output = run(tenant, "clients", "list", "--tenant", "nowhere", ok=False)
    assert "no tenant named 'nowhere'" in output
    # A client of another tenant is not found under this one.
    other = created(tenant, "globex")
    output = run(tenant, "clients", "revoke", "--tenant", "acme", other["client_id"], ok=False)
    assert "has no client" in output
