"""Fault rules on a running server with two workers, on SQLite and PostgreSQL (issue 13,
item 2: "Matching API calls get that status in the vendor's error format (429 and 503
with Retry-After), extra latency, or a connection closed mid-body. Rules live in the
database, so they apply in every worker at once; --count is exact across workers")."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.client import RetryPolicy
from chronodelta.server import FaultSpec, add_fault_rule, list_fault_rules
from tests.server.sandbox_server import (
    CLOCKINGS_PATH,
    JANUARY,
    TOKEN_PATH,
    Sandbox,
    bearer,
    request_token,
)
from tests.sync.writes import assert_mirror_equals_source

JANUARY_FILTER = JANUARY["filter"]
CALLS = 40


def cli(sandbox: Sandbox, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--database", sandbox.database_url])
    assert result.exit_code == 0, result.output
    return result.output


def list_status(sandbox: Sandbox, token: str) -> httpx.Response:
    with sandbox.http() as http:  # a fresh connection: either worker may answer
        return http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token))


def test_a_count_2_rule_fails_exactly_two_of_many_concurrent_calls(clean: Sandbox) -> None:
    """ "--count is exact across workers": a rule added by the CLI, 40 calls from 8
    threads on fresh connections (both workers serve), exactly two 503s with Retry-After."""
    client = clean.new_client()
    token = clean.token(client)
    added = json.loads(
        cli(
            clean,
            "faults",
            "add",
            "--tenant",
            "acme",
            "--client",
            client.client_id,
            "--status",
            "503",
            "--count",
            "2",
            "--json",
        )
    )
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(CALLS // 8):
            response = list_status(clean, token)
            with lock:
                responses.append(response)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [r for r in responses if r.status_code != 200]
    assert len(responses) == CALLS and [r.status_code for r in failed] == [503, 503]
    for response in failed:
        assert response.headers["retry-after"] == "1"
        error = response.json()["error"]
        assert (
            error["code"] == "ServiceUnavailable" and f"rule {added['id']}" in error["reasons"][0]
        )
    (rule,) = list_fault_rules(clean.engine, "acme")
    assert rule.remaining == 0
    rows = clean.logged(client, lambda rows: len(rows) >= CALLS + 1)
    assert sorted(r.status for r in rows if r.fault_rule_id == added["id"]) == [503, 503]


def test_the_sdk_and_the_sync_converge_through_a_counted_503_rule(
    clean: Sandbox, tmp_path: Path
) -> None:
    """Issue 13, "Must hold": "the SDK's retries and the sync still converge through it"."""
    client = clean.new_client()
    with clean.sdk(client) as sdk:
        expected = {c.id for c in sdk.clockings.list(JANUARY_FILTER)}
        add_fault_rule(
            clean.engine, "acme", FaultSpec(client_id=client.client_id, status_code=503, count=2)
        )
        assert {c.id for c in sdk.clockings.list(JANUARY_FILTER)} == expected
    assert list_fault_rules(clean.engine, "acme")[0].remaining == 0
    add_fault_rule(
        clean.engine, "acme", FaultSpec(client_id=client.client_id, status_code=429, count=2)
    )
    target = f"sqlite:///{tmp_path / 'mirror.db'}"
    env = {
        "CHRONODELTA_BASE_URL": clean.base_url,
        "CHRONODELTA_TENANT": "acme",
        "CHRONODELTA_CLIENT_ID": client.client_id,
        "CHRONODELTA_CLIENT_SECRET": client.client_secret,
    }
    args = ["sync", "clockings", "--since", "2026-01-08", "--target", target]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    with clean.sdk(client) as sdk:
        assert_mirror_equals_source(sdk, target, ("clockings",))
    rows = clean.logged(client, lambda rows: sum(r.status == 429 for r in rows) == 2)
    assert sum(r.status == 503 for r in rows) == 2


def test_a_dropped_response_is_cut_mid_body_and_the_sdk_retries_it(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    rule = add_fault_rule(
        clean.engine, "acme", FaultSpec(client_id=client.client_id, drop=True, count=2)
    )
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        list_status(clean, token)
    with clean.sdk(client, retry=RetryPolicy(base_delay=0.01)) as sdk:
        records = list(sdk.clockings.list(JANUARY_FILTER))  # the second drop, then served
    assert records
    rows = clean.logged(client, lambda rows: sum(r.fault == "drop" for r in rows) == 2)
    cut = [r for r in rows if r.fault_rule_id == rule.id]
    served = [r for r in rows if r.fault is None and r.query == cut[0].query]
    # What went out before the cut: the status line, headers and half of the body.
    assert cut and served
    assert all(0 < 2 * r.response_bytes <= served[0].response_bytes for r in cut)


def test_a_latency_rule_fires_and_the_log_says_so(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    rule = add_fault_rule(
        clean.engine, "acme", FaultSpec(client_id=client.client_id, latency_ms=20, count=1)
    )
    assert list_status(clean, token).status_code == 200
    assert list_status(clean, token).status_code == 200
    rows = clean.logged(client, lambda rows: len(rows) == 3)
    assert [(r.status, r.fault, r.fault_rule_id) for r in rows] == [
        (200, None, None),  # the token request
        (200, "latency 20 ms", rule.id),
        (200, None, None),
    ]


def test_probability_0_never_fires_and_probability_1_always_does(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    spec = FaultSpec(client_id=client.client_id, status_code=500, probability=0.0)
    add_fault_rule(clean.engine, "acme", spec)
    assert {list_status(clean, token).status_code for _ in range(10)} == {200}
    spec = FaultSpec(client_id=client.client_id, status_code=429, probability=1.0)
    always = add_fault_rule(clean.engine, "acme", spec)
    responses = [list_status(clean, token) for _ in range(10)]
    assert {r.status_code for r in responses} == {429}
    assert {r.headers["retry-after"] for r in responses} == {"1"}
    assert list_fault_rules(clean.engine, "acme")[1].remaining is None  # never used up
    cli(clean, "faults", "clear", "--tenant", "acme", "--id", str(always.id))
    assert list_status(clean, token).status_code == 200  # the CLI's clear: next call


def test_a_rule_matches_only_its_client_method_and_path(clean: Sandbox) -> None:
    client, other = clean.new_client(), clean.new_client()
    token, others_token = clean.token(client), clean.token(other)
    for spec in (
        FaultSpec(client_id=client.client_id, method="POST", status_code=409),
        FaultSpec(client_id=client.client_id, path_glob="*/people*", status_code=404),
    ):
        add_fault_rule(clean.engine, "acme", spec)
    assert list_status(clean, token).status_code == 200  # a GET of clockings
    assert list_status(clean, others_token).status_code == 200
    with clean.http() as http:
        people = http.get("/connector/protimeapi/api/v1/people", headers=bearer(token))
        others_people = http.get(
            "/connector/protimeapi/api/v1/people", headers=bearer(others_token)
        )
        posted = http.post(CLOCKINGS_PATH, json={}, headers=bearer(token))
    assert people.status_code == 404 and people.json()["error"]["code"] == "NotFound"
    assert others_people.status_code == 200
    assert posted.status_code == 409 and posted.json()["error"]["code"] == "Conflict"


def test_the_token_endpoint_meets_its_rules_before_authentication(clean: Sandbox) -> None:
    client = clean.new_client()
    spec = FaultSpec(
        client_id=client.client_id, path_glob=TOKEN_PATH, status_code=429, retry_after=7, count=1
    )
    add_fault_rule(clean.engine, "acme", spec)
    other = clean.new_client()
    with clean.http() as http:
        assert request_token(http, other).status_code == 200  # another client's request
        refused = request_token(http, client)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "7"
        assert refused.json()["error"]["code"] == "TooManyRequests"
        assert request_token(http, client).status_code == 200  # the count is used up
    with clean.sdk(client) as sdk:  # and the SDK gets its token through a 503 rule
        spec = FaultSpec(client_id=client.client_id, path_glob=TOKEN_PATH, status_code=503, count=1)
        add_fault_rule(clean.engine, "acme", spec)
        assert list(sdk.clockings.list(JANUARY_FILTER))


def test_the_admin_api_adds_lists_and_clears_rules(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    with clean.http() as http:
        base = "/admin/tenants/acme/faults"
        added = http.post(
            base,
            json={"client": client.client_id, "status": 503, "retryAfter": 2, "count": 1},
            headers=clean.operator,
        )
        assert added.status_code == 201, added.text
        rule = added.json()
        assert (rule["status"], rule["retryAfter"], rule["remaining"]) == (503, 2, 1)
        listed = http.get(base, headers=clean.operator).json()["value"]
        assert [r["id"] for r in listed] == [rule["id"]]
        failed = list_status(clean, token)
        assert failed.status_code == 503 and failed.headers["retry-after"] == "2"
        assert http.get(base, headers=clean.operator).json()["value"][0]["remaining"] == 0
        cleared = http.delete(f"{base}/{rule['id']}", headers=clean.operator)
        assert cleared.json() == {"cleared": 1}
        assert http.delete(f"{base}/{rule['id']}", headers=clean.operator).status_code == 404
        for body in (
            {"status": 503, "drop": True},
            {"latencyMs": -1},
            {"status": 200},
            {"drop": True, "count": 1, "probability": 0.5},
            {"nope": 1},
        ):
            refused = http.post(base, json=body, headers=clean.operator)
            assert refused.status_code == 400, (body, refused.text)
            assert refused.json()["error"]["code"] == "BadRequest"
        malformed = http.post(base, content=b"{", headers=clean.operator)
        assert malformed.status_code == 400
        unknown = http.get("/admin/tenants/nosuch/faults", headers=clean.operator)
        assert unknown.status_code == 404
        assert http.delete(base, headers=clean.operator).json() == {"cleared": 0}


@pytest.mark.parametrize(
    "path",
    ["/admin/tenants/acme/faults", "/admin/tenants/acme/faults/1", "/admin/tenants/acme/requests"],
)
def test_an_api_access_token_gets_401_on_the_fault_and_log_paths(clean: Sandbox, path: str) -> None:
    """Issue 13: "operator-only, never reachable with an API access token"."""
    client = clean.new_client()
    token = clean.token(client)
    with clean.http() as http:
        for method in ("GET", "POST", "DELETE"):
            response = http.request(method, path, headers=bearer(token), content=b"{")
            assert response.status_code == 401, (method, response.text)
            assert response.headers["www-authenticate"].startswith("Basic")
    assert list_fault_rules(clean.engine, "acme") == []


def test_the_cli_lists_and_clears_rules(clean: Sandbox) -> None:
    client = clean.new_client()
    cli(
        clean,
        "faults",
        "add",
        "--tenant",
        "acme",
        "--client",
        client.client_id,
        "--latency-ms",
        "5",
        "--probability",
        "0.5",
    )
    cli(clean, "faults", "add", "--tenant", "acme", "--path", "*/people*", "--drop")
    listed = json.loads(cli(clean, "faults", "list", "--tenant", "acme", "--json"))
    assert [r["does"] for r in listed] == ["latency 5 ms", "drop"]
    assert "latency 5 ms" in cli(clean, "faults", "list")
    refused = CliRunner().invoke(
        app,
        [
            "faults",
            "add",
            "--tenant",
            "acme",
            "--status",
            "503",
            "--drop",
            "--database",
            clean.database_url,
        ],
    )
    assert refused.exit_code == 1 and "exactly one of" in refused.output
    assert "removed 2" in cli(clean, "faults", "clear", "--tenant", "acme")
