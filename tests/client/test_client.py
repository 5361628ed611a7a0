"""The blocking client: clocking writes, headers, error bodies, construction."""

from __future__ import annotations

import json

import httpx
import pytest

from chronodelta.client import (
    Client,
    ClockingInput,
    Conflict,
    InvalidResponse,
    NotFound,
    ServerError,
)

from .fakes import BASE, PREFIX, USER_AGENT, FakeApi, clocking, error, make_client

NEW = ClockingInput(person_id=1, date="2026-01-15", time_of_day_in_minutes=510, kind="InOut")


def test_create_returns_the_id_from_location_and_the_record() -> None:
    api = FakeApi().add(
        httpx.Response(201, json=clocking(19250), headers={"Location": f"{PREFIX}/clockings/19250"})
    )
    with make_client(api) as client:
        created = client.clockings.create(NEW)
    assert (created.id, created.location) == (19250, f"{PREFIX}/clockings/19250")
    assert created.record is not None and created.record.id == 19250
    (request,) = api.api_requests
    assert (request.method, request.url.path) == ("POST", f"{PREFIX}/clockings")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "InOut",
    }


@pytest.mark.parametrize(
    "location",
    [f"{BASE}{PREFIX}/clockings/77", f"{PREFIX}/clockings/77/", "clockings/77"],
)
def test_location_may_be_absolute_or_end_with_a_slash(location: str) -> None:
    api = FakeApi().add(httpx.Response(201, headers={"Location": location}))
    with make_client(api) as client:
        created = client.clockings.create({"person": {"id": 1}, "date": "2026-01-15",
                                           "timeOfDayInMinutes": 1, "kind": "InOut"})  # fmt: skip
    assert (created.id, created.record) == (77, None)  # no body: no record


@pytest.mark.parametrize("headers", [{}, {"Location": f"{PREFIX}/clockings/new"}])
def test_a_create_without_a_usable_location_is_an_invalid_response(
    headers: dict[str, str],
) -> None:
    api = FakeApi().add(httpx.Response(201, json=clocking(1), headers=headers))
    with make_client(api) as client, pytest.raises(InvalidResponse, match="Location"):
        client.clockings.create(NEW)


def test_update_puts_the_whole_clocking_with_if_match() -> None:
    api = FakeApi().add(
        httpx.Response(200, json=clocking(5, 9, timeOfDayInMinutes=540)),
        httpx.Response(200, json=clocking(5, 10)),
        httpx.Response(200),
    )
    current = clocking(5, 8)
    with make_client(api) as client:
        updated = client.clockings.update(5, NEW, if_match=f"{8:020X}")
        client.clockings.update(5, {**current, "timeOfDayInMinutes": 541}, if_match='W/"x"')
        assert client.clockings.update(5, NEW) is None  # a 200 without a body
    assert updated is not None and updated.time_of_day_in_minutes == 540
    first, second, third = api.api_requests
    assert (first.method, first.url.path) == ("PUT", f"{PREFIX}/clockings/5")
    assert first.headers["If-Match"] == f'"{8:020X}"'  # a changeVersion is quoted
    assert second.headers["If-Match"] == 'W/"x"'  # an entity tag is kept
    assert json.loads(second.content)["timeOfDayInMinutes"] == 541
    assert "If-Match" not in third.headers


def test_a_stale_if_match_is_a_conflict() -> None:
    api = FakeApi().add(error(409, "Conflict", "The resource was changed by another request"))
    with make_client(api) as client, pytest.raises(Conflict) as caught:
        client.clockings.update(5, NEW, if_match='"0000000000000000000A"')
    assert caught.value.status_code == 409


def test_delete_sends_delete_with_if_match() -> None:
    api = FakeApi().add(httpx.Response(204), httpx.Response(204))
    with make_client(api) as client:
        client.clockings.delete(5)
        client.clockings.delete(6, if_match=f"{3:020X}")
    assert [(r.method, r.url.path) for r in api.api_requests] == [
        ("DELETE", f"{PREFIX}/clockings/5"),
        ("DELETE", f"{PREFIX}/clockings/6"),
    ]
    assert api.api_requests[1].headers["If-Match"] == f'"{3:020X}"'


def test_get_by_id_with_external_references() -> None:
    person = {"id": 1, "externalReferences": {"@badge-number": "6767676"}}
    api = FakeApi().add(httpx.Response(200, json=clocking(5, person=person)))
    with make_client(api) as client:
        found = client.clockings.get(5, external_references=[("people", "@badge-number")])
    assert found.person.external_references == {"@badge-number": "6767676"}
    assert api.api_requests[0].url.raw_path == (
        f"{PREFIX}/clockings/5?externalReferences=(people,@badge-number)".encode()
    )


def test_every_request_carries_the_user_agent_and_accepts_json() -> None:
    api = FakeApi().add(httpx.Response(200, json=clocking(1)), httpx.Response(204))
    with make_client(api) as client:
        client.clockings.get(1)
        client.clockings.delete(1)
    for request in [*api.token_requests, *api.api_requests]:
        assert request.headers["User-Agent"] == USER_AGENT
    assert all(r.headers["Accept"] == "application/json" for r in api.api_requests)


@pytest.mark.parametrize(
    "agent", ["", "python-httpx/0.28", "Sync 1.0 (Acme)", "Sync/1.0", "Sync/1.0 Acme"]
)
def test_the_user_agent_must_follow_the_contract(agent: str) -> None:
    with pytest.raises(ValueError, match="ServiceName/Version"):
        make_client(FakeApi(), user_agent=agent)


def test_the_error_body_is_carried_by_the_exception() -> None:
    api = FakeApi().add(
        error(404, "NotFound", "The resource was not found", "No clocking 99", "Check the id")
    )
    with make_client(api) as client, pytest.raises(NotFound) as caught:
        client.clockings.get(99)
    found = caught.value
    assert (found.status_code, found.code, found.message) == (
        404,
        "NotFound",
        "The resource was not found",
    )
    assert found.reasons == ("No clocking 99", "Check the id")
    assert (found.method, found.url) == ("GET", f"{PREFIX}/clockings/99")
    assert str(found) == (
        "404 NotFound: The resource was not found (No clocking 99; Check the id) "
        f"[GET {PREFIX}/clockings/99]"
    )


def test_an_error_without_the_contract_body_still_has_a_status_and_code() -> None:
    api = FakeApi()
    api.add(*(httpx.Response(502, content=b"<html>Bad gateway</html>") for _ in range(4)))
    with make_client(api) as client, pytest.raises(ServerError) as caught:
        client.clockings.get(1)
    assert (caught.value.status_code, caught.value.code) == (502, "Bad Gateway")
    assert caught.value.reasons == ()


def test_construction_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="absolute"):
        Client("acme.myprotime.eu", "acme", "id", "secret", user_agent=USER_AGENT)
    with pytest.raises(ValueError, match="tenant"):
        Client(BASE, "a/b", "id", "secret", user_agent=USER_AGENT)


def test_the_client_says_where_it_points_without_secrets() -> None:
    with make_client(FakeApi()) as client:
        assert repr(client) == (
            "<Client base_url='https://acme.myprotime.eu' tenant='acme' client_id='client-123'>"
        )
        assert client.tenant == "acme" and client.user_agent == USER_AGENT
        assert str(client.base_url) == BASE
        totals = (client.paid_presences, client.activity_durations, client.calculated_totals)
        assert [c.name for c in totals] == [
            "paid-presences",
            "activity-durations",
            "calculated-totals",
        ]
