"""The request log on a running server with two workers, on SQLite and PostgreSQL
(issue 13, item 3: "Every API call of a tenant is recorded: time, API client, method,
path and query, status, duration, response bytes, error reasons, whether a fault rule
fired; request bodies of writes size-capped; never a secret or a token")."""

from __future__ import annotations

import base64
import threading
from typing import Any

import httpx
import sqlalchemy as sa

from chronodelta.server import FaultSpec, add_fault_rule
from chronodelta.storage import read_transaction, tables
from tests.server.sandbox_server import (
    CLOCKINGS_PATH,
    JANUARY,
    TOKEN_PATH,
    Sandbox,
    bearer,
    request_token,
)

PEOPLE_PATH = "/connector/protimeapi/api/v1/people"


def clocking(person: int = 1, day: str = "2026-01-19", minute: int = 480) -> dict[str, Any]:
    return {"person": {"id": person}, "date": day, "timeOfDayInMinutes": minute, "kind": "InOut"}


def test_every_call_is_logged_with_its_status_and_what_it_asked(clean: Sandbox) -> None:
    client = clean.new_client()
    with clean.http() as http:
        assert request_token(http, client).status_code == 200
        wrong = http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials", "client_id": client.client_id,
                  "client_secret": "not-it"},
        )  # fmt: skip
        assert wrong.status_code == 401
        token = clean.token(client)
        calls = [
            http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token)),
            http.get(f"{CLOCKINGS_PATH}/999999", headers=bearer(token)),
            http.post(CLOCKINGS_PATH, json=clocking(), headers=bearer(token)),
            http.post(CLOCKINGS_PATH, json={"person": "x"}, headers=bearer(token)),
        ]
    assert [c.status_code for c in calls] == [200, 404, 201, 400]
    rows = clean.logged(client, lambda rows: len(rows) == 7)
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("POST", TOKEN_PATH, 200),
        ("POST", TOKEN_PATH, 401),
        ("POST", TOKEN_PATH, 200),
        ("GET", CLOCKINGS_PATH, 200),
        ("GET", f"{CLOCKINGS_PATH}/999999", 404),
        ("POST", CLOCKINGS_PATH, 201),
        ("POST", CLOCKINGS_PATH, 400),
    ]
    listed, missing, created, refused = rows[3:]
    assert listed.query == f"filter={JANUARY['filter']}"
    assert listed.response_bytes == len(calls[0].content) and listed.duration_ms > 0
    assert all(r.client_id == client.client_id and r.fault is None for r in rows)
    assert rows[1].error_code == "Unauthorized"
    assert (missing.error_code, listed.error_code) == ("NotFound", None)
    assert refused.error_code == "BadRequest" and refused.error_reasons
    assert created.request_body is not None and '"timeOfDayInMinutes":480' in created.request_body
    assert listed.request_body is None  # reads keep no body
    assert rows[0].request_body == f"grant_type=client_credentials&client_id={client.client_id}"
    assert all(r.logged_at.tzinfo is not None for r in rows)


def test_a_fired_rule_is_named_in_the_log(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    rule = add_fault_rule(
        clean.engine, "acme", FaultSpec(client_id=client.client_id, status_code=503, count=1)
    )
    with clean.http() as http:
        assert http.get(PEOPLE_PATH, headers=bearer(token)).status_code == 503
    (_, row) = clean.logged(client, lambda rows: len(rows) == 2)
    assert (row.status, row.fault_rule_id, row.fault) == (503, rule.id, "status 503")
    assert row.error_code == "ServiceUnavailable" and row.error_reasons
    assert f"rule {rule.id}" in row.error_reasons[0]


def test_no_secret_or_token_is_ever_stored(clean: Sandbox) -> None:
    """Token requests by form and by HTTP Basic, a delta with its deltaToken and a page
    with its continuationToken: none of the secret, the access token or the links'
    tokens appears anywhere in the stored rows."""
    client = clean.new_client()
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    with clean.http() as http:
        by_basic = http.post(
            TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert by_basic.status_code == 200
        token = clean.token(client)
        secrets = {client.client_secret, token, by_basic.json()["access_token"]}
        page = http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token)).json()
        next_page = http.get(page["nextLink"], headers=bearer(token))
        assert next_page.status_code == 200
        secrets.add(httpx.URL(page["nextLink"]).params["continuationToken"])
        link = _delta_link(http, token)
        secrets.add(httpx.URL(link).params["deltaToken"])
        assert http.get(link, headers=bearer(token)).status_code == 200
    rows = clean.logged(client, lambda rows: any("/delta/" in r.path for r in rows))
    assert rows[0].client_id == client.client_id  # the Basic request names its client
    with read_transaction(clean.engine) as connection:
        stored = [
            " ".join(map(str, row)) for row in connection.execute(sa.select(tables.request_log))
        ]
    for secret in secrets:
        assert not [row for row in stored if secret in row]
    assert any("continuationToken=redacted-" in r.query for r in rows)


def _delta_link(http: httpx.Client, token: str) -> str:
    url: str | None = CLOCKINGS_PATH + "?filter=" + JANUARY["filter"] + "&delta"
    while url is not None:
        body = http.get(url, headers=bearer(token)).json()
        if "deltaLink" in body:
            link: str = body["deltaLink"]
            return link
        url = body.get("nextLink")
    raise AssertionError("no deltaLink")


def test_request_bodies_of_writes_are_capped(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    big = {**clocking(), "comment": "x" * 6000}
    with clean.http() as http:
        assert http.post(CLOCKINGS_PATH, json=big, headers=bearer(token)).status_code == 400
    (_, row) = clean.logged(client, lambda rows: len(rows) == 2)
    assert row.request_body is not None and len(row.request_body.encode()) == 4096
    assert row.request_body_truncated


def test_the_admin_api_filters_the_log_newest_first(clean: Sandbox) -> None:
    client, other = clean.new_client(), clean.new_client()
    token, others_token = clean.token(client), clean.token(other)
    with clean.http() as http:
        for _ in range(3):
            http.get(PEOPLE_PATH, headers=bearer(token))
        http.get(f"{CLOCKINGS_PATH}/999999", headers=bearer(token))
        http.get(PEOPLE_PATH, headers=bearer(others_token))
    clean.logged(client, lambda rows: len(rows) == 5)
    clean.logged(other, lambda rows: len(rows) == 2)

    def admin(**params: Any) -> list[dict[str, Any]]:
        with clean.http() as http:
            response = http.get(
                "/admin/tenants/acme/requests", params=params, headers=clean.operator
            )
        assert response.status_code == 200, response.text
        value: list[dict[str, Any]] = response.json()["value"]
        return value

    mine = admin(client=client.client_id)
    assert [r["id"] for r in mine] == sorted((r["id"] for r in mine), reverse=True)
    assert [r["status"] for r in mine] == [404, 200, 200, 200, 200]
    assert [r["status"] for r in admin(client=client.client_id, status="4xx")] == [404]
    assert len(admin(client=client.client_id, path="/people")) == 3
    assert len(admin(client=client.client_id, method="post")) == 1  # its token request
    assert len(admin(client=client.client_id, limit=2)) == 2
    oldest = admin(client=client.client_id, order="oldest", since_id=mine[2]["id"])
    assert [r["id"] for r in oldest] == [mine[1]["id"], mine[0]["id"]]
    assert {r["clientId"] for r in admin(path="/people", status=200)} >= {
        client.client_id,
        other.client_id,
    }
    with clean.http() as http:
        for params in ({"limit": 0}, {"status": "abc"}, {"since_id": "x"}, {"order": "up"}):
            refused = http.get(
                "/admin/tenants/acme/requests", params=params, headers=clean.operator
            )
            assert refused.status_code == 400, params
        unknown = http.get("/admin/tenants/nosuch/requests", headers=clean.operator)
        assert unknown.status_code == 404


def test_concurrent_readers_and_writers_with_the_log_on(clean: Sandbox) -> None:
    """Two writers and two readers at once on fresh connections (both workers): no 5xx,
    every written clocking is there afterwards, and every call is in the log."""
    client = clean.new_client()
    token = clean.token(client)
    results: list[tuple[str, int, int | None]] = []
    lock = threading.Lock()

    def writer(person: int) -> None:
        for minute in range(20):
            with clean.http() as http:
                response = http.post(
                    CLOCKINGS_PATH,
                    json=clocking(person, "2026-01-18", 600 + minute),
                    headers=bearer(token),
                )
            created = response.json()["id"] if response.status_code == 201 else None
            with lock:
                results.append(("POST", response.status_code, created))

    def reader() -> None:
        for _ in range(20):
            with clean.http() as http:
                response = http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token))
            with lock:
                results.append(("GET", response.status_code, None))

    threads = [threading.Thread(target=writer, args=(p,)) for p in (1, 2)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for _, status, _ in results} <= {200, 201}
    created = {i for method, _, i in results if method == "POST"}
    assert len(created) == 40 and None not in created
    concurrent = clean.logged(client, lambda rows: len(rows) == 1 + len(results))
    assert sorted(r.status for r in concurrent[1:]) == sorted(s for _, s, _ in results)
    assert len({r.id for r in concurrent}) == len(concurrent)
    with clean.http() as http:
        assert created <= _all_ids(http, token)


def _all_ids(http: httpx.Client, token: str) -> set[int]:
    ids: set[int] = set()
    body = http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token)).json()
    while True:
        ids |= {record["id"] for record in body["value"]}
        if "nextLink" not in body:
            return ids
        body = http.get(body["nextLink"], headers=bearer(token)).json()
