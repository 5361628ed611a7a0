"""Every scope the vendor documents is known (issue 11, item 4; contract, "Fidelity",
"Scopes": all ``connector-protimeapi-`` + name), over real HTTP on both databases.

A client registered with any of them gets a token for it, even where this server does
not serve that collection yet; a client registered without a scope list gets every
scope the server serves; an unknown scope is still a 400.
"""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.domain import KNOWN_SCOPES, SERVED_SCOPES, Scope
from chronodelta.server import NewClient
from tests.server.auth.conftest import (
    JANUARY,
    LIST_PATH,
    TOKEN_PATH,
    Serve,
    caller,
    error_of,
    request_token,
)

# The contract's list, verbatim: "clockings.read/.write, calculated-totals.read, ...".
VENDOR_SCOPES = {
    f"connector-protimeapi-{name}"
    for name in (
        *("clockings.read", "clockings.write", "calculated-totals.read"),
        *("activity-durations.read", "people.read", "access-clockings.read"),
        *("absences.read", "absence-definitions.read", "absence-groups.read"),
        *("activity-definitions.read", "activity-definitions.write"),
        *("break-definitions.read", "contracts.read", "counters.read"),
        *("counter-definitions.read", "counter-groups.read", "shift-definitions.read"),
        *("work-interruptions.read", "webhooks.read", "webhooks.write"),
        "external-references.write",
    )
}


def register(database_url: str, *scopes: str) -> dict[str, str]:
    """``chronodelta clients create --tenant acme --scope ...``, as an operator runs it."""
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    result = CliRunner().invoke(
        app, ["clients", "create", "--tenant", "acme", *args, "--json", "--database", database_url]
    )
    assert result.exit_code == 0, result.output
    client: dict[str, str] = json.loads(result.output)
    return client


def test_every_vendor_scope_is_known_and_terminals_read_is_ours() -> None:
    assert {s.value for s in KNOWN_SCOPES} == VENDOR_SCOPES | {Scope.TERMINALS_READ.value}


def test_a_client_registered_with_unserved_scopes_gets_tokens_for_them(
    serve: Serve, database_url: str
) -> None:
    client = register(database_url, "absences.read", "counter-groups.read", "clockings.read")
    with caller(serve()) as http:
        form = {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
        absences = http.post(
            TOKEN_PATH, data={**form, "scope": "connector-protimeapi-absences.read"}
        )
        assert absences.status_code == 200, absences.text
        assert absences.json()["scope"] == "connector-protimeapi-absences.read"
        # It guards nothing served here: a token with only it reads no clockings.
        only_absences = {"Authorization": f"Bearer {absences.json()['access_token']}"}
        assert http.get(LIST_PATH, params=JANUARY, headers=only_absences).status_code == 401
        # Without a scope parameter, the token carries everything registered.
        every = request_token(http, client["client_id"], client["client_secret"])
        assert every.status_code == 200, every.text
        assert set(every.json()["scope"].split()) == {
            "connector-protimeapi-clockings.read",
            "connector-protimeapi-absences.read",
            "connector-protimeapi-counter-groups.read",
        }
        with_clockings = {"Authorization": f"Bearer {every.json()['access_token']}"}
        assert http.get(LIST_PATH, params=JANUARY, headers=with_clockings).status_code == 200


def test_a_client_registered_without_scopes_gets_the_served_ones(
    serve: Serve, acme: NewClient
) -> None:
    assert acme.scopes == SERVED_SCOPES
    with caller(serve()) as http:
        token = request_token(http, acme.client_id, acme.client_secret)
        assert token.status_code == 200, token.text
        assert token.json()["scope"].split() == [s.value for s in SERVED_SCOPES]
        refused = http.post(
            TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": acme.client_id,
                "client_secret": acme.client_secret,
                "scope": "connector-protimeapi-absences.read",  # known, not served
            },
        )
        error = error_of(refused, 400)
        assert error["code"] == "invalid_scope"
        assert error["reasons"] == [
            "Scope not granted to this client: connector-protimeapi-absences.read"
        ]


def test_an_unknown_scope_is_still_a_400(serve: Serve, acme: NewClient, engine: Engine) -> None:
    with caller(serve()) as http:
        response = http.post(
            TOKEN_PATH,
            data={
                "grant_type": "client_credentials",
                "client_id": acme.client_id,
                "client_secret": acme.client_secret,
                "scope": "connector-protimeapi-clockings.read connector-protimeapi-teleport.read",
            },
        )
        error = error_of(response, 400)
        assert error["code"] == "invalid_scope"  # RFC 6749, section 5.2
        assert error["reasons"] == ["Unknown scope: connector-protimeapi-teleport.read"]
        discovery = http.get("/tenants/acme/.well-known/openid-configuration").json()
        assert set(discovery["scopes_supported"]) == {s.value for s in KNOWN_SCOPES}


def test_the_cli_refuses_to_register_an_unknown_scope(database_url: str, acme: NewClient) -> None:
    result = CliRunner().invoke(
        app,
        [
            "clients",
            "create",
            "--tenant",
            "acme",
            "--scope",
            "teleport.read",
            "--database",
            database_url,
        ],
    )
    assert result.exit_code != 0
    assert "unknown scope 'teleport.read'" in result.output
