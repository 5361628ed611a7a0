"""Setting up a tenant the way an operator does (the CLI), and getting a token over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
from typer.testing import CliRunner

from chronodelta.cli import app


def provision_with_cli(
    database_url: str, *, people: int, days: int, until: str, scopes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Tenant ``acme`` with seeded data and a client; returns the client as ``--json`` prints it."""
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database", database_url])
        assert result.exit_code == 0, result.output
        return result.output

    run("tenants", "create", "acme")
    run("seed", "--tenant", "acme", "--people", str(people), "--days", str(days), "--until", until)
    scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
    client: dict[str, Any] = json.loads(
        run("clients", "create", "--tenant", "acme", *scope_args, "--json")
    )
    return client


def bearer(http: httpx.Client, client: dict[str, Any], tenant: str = "acme") -> dict[str, str]:
    """Authorization headers with a fresh token for ``client``."""
    response = http.post(
        f"/tenants/{tenant}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
