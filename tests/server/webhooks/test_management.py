"""The webhook management API (contract, "Webhooks"; issue 12, item 1), on both databases."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.storage import tables
from tests.server.conftest import Api, make_api

PATH = "/connector/protimeapi/api/v1/webhooks"
RECEIVER = "http://127.0.0.1:9/hooks"
WRITE = (Scope.WEBHOOKS_WRITE, Scope.WEBHOOKS_READ, Scope.CLOCKINGS_READ)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def register(
    api: Api, collection: str = "clockings", url: str = RECEIVER, query: str = ""
) -> dict[str, Any]:
    response = api.http.post(
        PATH + query,
        json={"destinationUrl": url, "collectionName": collection},
        headers=api.auth(*WRITE, Scope.CALCULATED_TOTALS_READ),
    )
    assert response.status_code == 201, response.text
    return dict(response.json(), location=response.headers["location"])


def error_reasons(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == "BadRequest", body
    return list(body["error"].get("reasons", []))


def test_register_answers_201_location_and_the_key_once(api: Api) -> None:
    # Contract: 201, a Location with the webhook's URI, the webhook and its private key.
    created = register(api, query="?externalReferences=(people,@employee-number)")
    assert GUID.match(created["id"])
    assert created["location"] == f"{PATH}/{created['id']}"
    assert created["status"] == "Enabled"
    assert created["collectionName"] == "clockings"
    assert created["destinationUrl"] == RECEIVER
    assert created["externalReferences"] == "(people,@employee-number)"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["signingKey"])
    valid_until = dt.datetime.fromisoformat(created["validUntil"])
    assert valid_until.utcoffset() is not None  # ISO 8601 with an offset
    assert dt.timedelta(days=29) < valid_until - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    # "not retrievable after creation"
    got = api.http.get(created["location"], headers=api.auth(Scope.WEBHOOKS_READ))
    assert got.status_code == 200
    assert "signingKey" not in got.json()
    assert got.json()["id"] == created["id"]


def test_list_filters_on_status_and_collection_name(api: Api) -> None:
    # Contract: GET /webhooks[?filter=status eq 'Disabled'] (status and collection name).
    clockings = register(api, "clockings")
    totals = register(api, "paid-presences")
    headers = api.auth(Scope.WEBHOOKS_READ)

    def ids(filter_text: str | None) -> set[str]:
        params = {} if filter_text is None else {"filter": filter_text}
        response = api.http.get(PATH, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {w["id"] for w in response.json()["value"]}

    assert ids(None) == {clockings["id"], totals["id"]}
    assert ids("status eq 'Disabled'") == set()
    assert ids("status eq 'Enabled'") == {clockings["id"], totals["id"]}
    assert ids("collectionName eq 'paid-presences'") == {totals["id"]}
    assert ids("status eq 'Enabled' and collectionName in ('clockings')") == {clockings["id"]}


@pytest.mark.parametrize(
    ("filter_text", "needle"),
    [
        ("status ne 'Enabled'", "ne"),
        ("status eq 'Sleeping'", "Sleeping"),
        ("destinationUrl eq 'x'", "destinationUrl"),
        ("collectionName eq 'nope'", "nope"),
    ],
)
def test_a_bad_filter_is_400_in_the_error_format(api: Api, filter_text: str, needle: str) -> None:
    # Contract, "Filtering": a malformed filter or an unknown field gives 400.
    response = api.http.get(PATH, params={"filter": filter_text}, headers=api.auth(*WRITE))
    assert response.status_code == 400
    assert any(needle in reason for reason in error_reasons(response)), response.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"destinationUrl": "ftp://example.com/x", "collectionName": "clockings"}, "http"),
        ({"destinationUrl": "not a url", "collectionName": "clockings"}, "destinationUrl"),
        ({"destinationUrl": "http://u:p@example.com/", "collectionName": "clockings"}, "cred"),
        ({"destinationUrl": RECEIVER, "collectionName": "timesheets"}, "timesheets"),
        ({"destinationUrl": RECEIVER}, "collectionName"),
        ({"collectionName": "clockings"}, "destinationUrl"),
        ({"destinationUrl": RECEIVER, "collectionName": "clockings", "x": 1}, "x"),
    ],
)
def test_a_bad_registration_is_400(api: Api, body: dict[str, Any], needle: str) -> None:
    # Contract: "400 Invalid destination URL or unknown collection name".
    response = api.http.post(PATH, json=body, headers=api.auth(*WRITE))
    assert response.status_code == 400, response.text
    reasons = " ".join(error_reasons(response))
    assert needle in reasons or needle in response.json()["error"]["message"], response.text


def test_bad_external_references_are_400(api: Api) -> None:
    response = api.http.post(
        PATH + "?externalReferences=(galaxies,@x)",
        json={"destinationUrl": RECEIVER, "collectionName": "clockings"},
        headers=api.auth(*WRITE),
    )
    assert response.status_code == 400
    assert error_reasons(response)


def test_every_delta_collection_can_be_subscribed(api: Api) -> None:
    # Issue 12, item 1: "Every delta collection the server serves can be subscribed".
    from chronodelta.server.records._tracked import TRACKED

    scopes = {info.info.read_scope for info in TRACKED.values()}
    headers = api.auth(Scope.WEBHOOKS_WRITE, *sorted(scopes))
    for name in TRACKED:
        body = {"destinationUrl": RECEIVER, "collectionName": name}
        assert api.http.post(PATH, json=body, headers=headers).status_code == 201, name


def test_scopes(api: Api) -> None:
    # Contract: scopes webhooks.read/.write; "A collection's .read also covers its
    # webhooks' reads"; subscribing needs the collection's read scope too (ours).
    created = register(api)
    body = {"destinationUrl": RECEIVER, "collectionName": "clockings"}
    assert api.http.post(PATH, json=body, headers=api.auth(Scope.WEBHOOKS_READ)).status_code == 401
    without_read = api.http.post(PATH, json=body, headers=api.auth(Scope.WEBHOOKS_WRITE))
    assert without_read.status_code == 401
    assert "clockings.read" in without_read.json()["error"]["reasons"][0]
    by_collection = api.http.get(PATH, headers=api.auth(Scope.CLOCKINGS_READ))
    assert [w["id"] for w in by_collection.json()["value"]] == [created["id"]]
    # people.read covers the webhooks on people only: there are none.
    assert api.http.get(PATH, headers=api.auth(Scope.PEOPLE_READ)).json() == {"value": []}
    people_only = api.http.get(created["location"], headers=api.auth(Scope.PEOPLE_READ))
    assert people_only.status_code == 404
    no_read = api.auth(Scope.EXTERNAL_REFERENCES_WRITE)
    assert api.http.get(PATH, headers=no_read).status_code == 401
    assert api.http.get(PATH).status_code == 401
    assert (
        api.http.delete(created["location"], headers=api.auth(Scope.WEBHOOKS_READ)).status_code
        == 401
    )


def test_delete_is_soft_and_keeps_the_log(api: Api) -> None:
    # Contract: DELETE is a soft delete ("you can still query debugging endpoints").
    created = register(api)
    headers = api.auth(*WRITE)
    assert api.http.delete(created["location"], headers=headers).status_code == 204
    assert api.http.get(created["location"], headers=headers).status_code == 404
    assert api.http.get(PATH, headers=headers).json()["value"] == []
    log = api.http.get(created["location"] + "/deliveries", headers=headers)
    assert log.status_code == 200 and log.json() == {"value": []}
    assert api.http.delete(created["location"], headers=headers).status_code == 404


def test_unknown_and_malformed_ids(api: Api) -> None:
    headers = api.auth(*WRITE)
    missing = api.http.get(f"{PATH}/a7d853ea-89eb-4735-83d1-b891c6fde398", headers=headers)
    assert missing.status_code == 404
    assert api.http.get(f"{PATH}/not-a-guid", headers=headers).status_code == 400


def test_another_tenant_never_sees_a_webhook(api: Api, engine: Engine, database_url: str) -> None:
    created = register(api)
    other = next(make_api(engine, database_url, tenant="globex"))
    headers = other.auth(*WRITE)
    assert other.http.get(created["location"], headers=headers).status_code == 404
    assert other.http.get(PATH, headers=headers).json()["value"] == []


def test_a_clocking_write_adds_events_in_its_transaction(api: Api) -> None:
    # Issue 12, item 2: events written in the same transaction as the change (the
    # clocking and the paid presence it recalculates).
    clockings = register(api, "clockings")
    totals = register(api, "paid-presences")
    response = api.http.post(
        "/connector/protimeapi/api/v1/clockings",
        json={
            "person": {"id": 1},
            "date": "2026-01-15",
            "timeOfDayInMinutes": 510,
            "kind": "InOut",
        },
        headers=api.auth(Scope.CLOCKINGS_WRITE),
    )
    assert response.status_code == 201
    version = int(response.json()["changeVersion"], 16)
    outbox = tables.webhook_outbox
    with api.engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox.c.webhook_id, outbox.c.change_version).order_by(outbox.c.id)
        ).all()
    assert (clockings["id"], version) in [tuple(r) for r in rows]
    assert any(r.webhook_id == totals["id"] for r in rows)


@pytest.fixture
def guarded(engine: Engine, database_url: str) -> Iterator[Api]:
    yield from make_api(engine, database_url, webhook_allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_the_ssrf_guard_refuses_private_destinations(guarded: Api, url: str) -> None:
    # Issue 12, item 5: with CHRONODELTA_WEBHOOK_ALLOW_PRIVATE=false, loopback, private,
    # link-local and metadata addresses are refused at registration.
    response = guarded.http.post(
        PATH,
        json={"destinationUrl": url, "collectionName": "clockings"},
        headers=guarded.auth(*WRITE),
    )
    assert response.status_code == 400, response.text
    assert "private destinations are off" in error_reasons(response)[0]
