"""``tenants reset`` and snapshots over real HTTP against a running server (issue 13,
item 4 and "Must hold"; issue 12, item 2), on SQLite and on PostgreSQL with 2 workers."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from chronodelta.server import create_client
from tests.server.delta_client import start
from tests.server.webhooks.receiver import Receiver, of_webhook, register

from .sandbox import (
    API,
    WINDOW,
    admin,
    api_client,
    change_the_data,
    everything,
    highest_version,
    provision,
    token,
    walk,
)


def test_a_reset_brings_back_exactly_the_seeded_records(engine: Engine, database_url: str) -> None:
    # Issue 13, "Must hold": "a reset brings back exactly the seeded records"; item 4:
    # "keeping its API clients". Compared with a tenant freshly seeded alike, by
    # content, ids included.
    sandbox = provision(engine, database_url)
    with (
        sandbox.server() as server,
        api_client(server, sandbox.acme) as acme,
        api_client(server, sandbox.fresh) as fresh,
        admin(server, sandbox) as operator,
    ):
        seeded = everything(fresh)
        assert everything(acme) == seeded
        before = highest_version(acme)
        change_the_data(acme)
        assert everything(acme) != seeded
        response = operator.post("/admin/tenants/acme/reset")
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["snapshot"] == "seeded"
        assert result["deleted"] >= 1 and result["updated"] >= 2  # the new clocking; two changed
        assert everything(acme) == seeded  # the same token still reads: the client stays
        assert token(acme, sandbox.acme)  # and it still gets tokens
        # Versions are never reused: every rewritten record has a newer one.
        assert highest_version(acme) > before
        assert result["changeVersions"]["first"] > before


def test_open_deltas_answer_410_and_list_walks_409_after_a_reset(
    engine: Engine, database_url: str
) -> None:
    # Issue 13, item 4: "Open deltas of the tenant answer 410 afterwards"; a list walked
    # across the reset answers 409 (contract, "Paging": a token that cannot be used),
    # so that no client silently mixes two states.
    sandbox = provision(engine, database_url)
    other = create_client(engine, "acme")  # one active delta per client and collection
    with (
        sandbox.server({"CHRONODELTA_PAGE_SIZE": "7"}) as server,
        api_client(server, sandbox.acme) as acme,
        api_client(server, other) as second,
        admin(server, sandbox) as operator,
    ):
        url = f"{API}/clockings"
        mirror = start(acme, url, {"filter": WINDOW}, {})
        assert mirror.delta_link is not None
        half = second.get(url, params={"filter": WINDOW, "delta": ""})  # a snapshot walk begun
        assert "nextLink" in half.json()
        listed = acme.get(url, params={"filter": WINDOW})  # a list walk begun
        assert "nextLink" in listed.json()
        assert operator.post("/admin/tenants/acme/reset").json()["deltasEnded"] == 2
        for http, link in ((acme, mirror.delta_link), (second, half.json()["nextLink"])):
            gone = http.get(link)
            assert gone.status_code == 410, gone.text
            assert gone.json()["error"]["message"] == "The tenant was reset"
        conflict = acme.get(listed.json()["nextLink"])
        assert conflict.status_code == 409, conflict.text
        assert "reset or restored" in conflict.json()["error"]["reasons"][0]
        assert len(walk(acme, "clockings")) > 7  # a list begun after it pages on
        again = start(acme, url, {"filter": WINDOW}, {})  # a new delta works at once
        assert len(again.records) == len(walk(acme, "clockings"))


def test_a_webhook_subscriber_receives_the_reset_as_events(
    engine: Engine, database_url: str
) -> None:
    # Issue 12, item 2: "tenant resets" become events: a record the reset removes
    # arrives as Delete, a record it brings back as InsertOrUpdate with the seeded data.
    sandbox = provision(engine, database_url)
    with (
        Receiver() as receiver,
        sandbox.server() as server,
        api_client(server, sandbox.acme) as acme,
        admin(server, sandbox) as operator,
    ):
        seeded = {c["id"]: c for c in walk(acme, "clockings")}
        hook = register(acme, receiver.url, "clockings")
        created = change_the_data(acme)
        reset = operator.post("/admin/tenants/acme/reset").json()
        first = reset["changeVersions"]["first"]

        def reset_events(got: list) -> list:  # type: ignore[type-arg]
            return [
                r.event
                for r in of_webhook(got, hook["id"])
                if r.event["data"]["changeVersion"] >= first
            ]

        got = receiver.wait_for(lambda received: len(reset_events(received)) >= 3)
    events = reset_events(got)
    deletes = [e["data"] for e in events if e["changeType"] == "Delete"]
    assert deletes == [{"id": created["id"], "changeVersion": deletes[0]["changeVersion"]}]
    restored = [e["data"] for e in events if e["changeType"] == "InsertOrUpdate"]
    assert len(restored) == 2
    for record in restored:
        expected = seeded[record["id"]]
        assert {**record, "changeVersion": ""} == {**expected, "changeVersion": ""}
        assert record["changeVersion"] > expected["changeVersion"]


def test_snapshot_writes_restore_returns_to_the_snapshot(engine: Engine, database_url: str) -> None:
    # Issue 13, item 4: "tenants snapshot T NAME / tenants restore T NAME for any
    # other state", through the admin API.
    sandbox = provision(engine, database_url)
    with (
        sandbox.server() as server,
        api_client(server, sandbox.acme) as acme,
        admin(server, sandbox) as operator,
    ):
        change_the_data(acme)
        saved = everything(acme)
        response = operator.post("/admin/tenants/acme/snapshots", json={"name": "mid-run"})
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "mid-run" and response.json()["seed"] is None
        change_the_data(acme)
        assert everything(acme) != saved
        restored = operator.post("/admin/tenants/acme/snapshots/mid-run/restore")
        assert restored.status_code == 200, restored.text
        assert everything(acme) == saved
        listed = operator.get("/admin/tenants/acme/snapshots").json()["value"]
        assert [s["name"] for s in listed] == ["mid-run", "seeded"]
        assert listed[1]["seed"] == {"people": 4, "days": 6, "seed": 5, "until": "2026-01-20"}
        assert operator.delete("/admin/tenants/acme/snapshots/mid-run").status_code == 204
        assert [
            s["name"] for s in operator.get("/admin/tenants/acme/snapshots").json()["value"]
        ] == ["seeded"]


BAD_REQUESTS = [
    ("POST", "/admin/tenants/nope/reset", None, 404),
    ("GET", "/admin/tenants/nope/snapshots", None, 404),
    ("POST", "/admin/tenants/nope/snapshots", {"name": "x"}, 404),
    ("POST", "/admin/tenants/acme/snapshots/missing/restore", None, 404),
    ("DELETE", "/admin/tenants/acme/snapshots/missing", None, 404),
    ("POST", "/admin/tenants/acme/snapshots", {"name": "seeded"}, 409),
    ("POST", "/admin/tenants/acme/snapshots", {"name": "no spaces"}, 400),
    ("POST", "/admin/tenants/acme/snapshots", {"nom": "x"}, 400),
    ("POST", "/admin/tenants/acme/snapshots", None, 400),
]
ADMIN_PATHS = [
    ("POST", "/admin/tenants/acme/reset"),
    ("GET", "/admin/tenants/acme/snapshots"),
    ("POST", "/admin/tenants/acme/snapshots"),
    ("POST", "/admin/tenants/acme/snapshots/seeded/restore"),
    ("DELETE", "/admin/tenants/acme/snapshots/seeded"),
]


def test_bad_requests_get_clear_errors_and_api_tokens_get_401(
    engine: Engine, database_url: str
) -> None:
    # Issue 13: "an API access token gets 401 on every /admin path"; bad input gets a
    # 4xx in the API's error format, never a 500 (docs/sandbox.md).
    sandbox = provision(engine, database_url)
    with (
        sandbox.server() as server,
        api_client(server, sandbox.acme) as acme,
        admin(server, sandbox) as operator,
    ):
        for method, path, body, status in BAD_REQUESTS:
            response = operator.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.text)
            assert response.json()["error"]["message"], response.text
        for method, path in ADMIN_PATHS:
            response = acme.request(method, path, json={"name": "x"})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "Unauthorized"
        # Nothing above changed anything: the seeded snapshot is still there.
        listed = operator.get("/admin/tenants/acme/snapshots").json()["value"]
        assert [s["name"] for s in listed] == ["seeded"]
