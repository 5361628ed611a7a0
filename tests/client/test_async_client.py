"""The asyncio client behaves as the blocking one (same protocol, other I/O)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import TypeVar

import httpx
import pytest

from chronodelta.client import (
    Clocking,
    ClockingInput,
    DeltaExpired,
    LocalizedText,
    Page,
    TransportError,
)

from .fakes import PREFIX, USER_AGENT, FakeApi, Recorder, clocking, error, make_async_client

T = TypeVar("T")
DELTA_LINK = f"{PREFIX}/delta/clockings?deltaToken=abc"


def run(awaitable: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await awaitable

    return asyncio.run(wrapper())


def test_list_follows_next_links() -> None:
    api = FakeApi().add(
        httpx.Response(200, json={"value": [clocking(1)], "nextLink": f"{PREFIX}/clockings?c=1"}),
        httpx.Response(200, json={"value": [], "nextLink": f"{PREFIX}/clockings?c=2"}),
        httpx.Response(200, json={"value": [clocking(2)]}),
    )

    async def scenario() -> list[int]:
        async with make_async_client(api) as client:
            return [c.id async for c in client.clockings.list("date ge '2026-01-01'")]

    assert run(scenario()) == [1, 2]
    assert len(api.api_requests) == 3
    assert api.api_requests[0].headers["User-Agent"] == USER_AGENT


def test_delta_pages_resume_and_follow() -> None:
    api = FakeApi().add(
        httpx.Response(200, json={"value": [clocking(1)], "nextLink": f"{PREFIX}/clockings?n=1"}),
        httpx.Response(200, json={"value": [], "deltaLink": DELTA_LINK}),
        httpx.Response(200, json={"value": [clocking(3)], "deltaLink": DELTA_LINK}),
        httpx.Response(
            200,
            json={
                "value": [{"changeType": "Delete", "data": {"id": 1, "changeVersion": "B"}}],
                "deltaLink": DELTA_LINK + "2",
            },
        ),
        error(410, "Gone", "The delta has expired"),
    )

    async def scenario() -> tuple[list[Page[Clocking]], list[Page[Clocking]], str]:
        async with make_async_client(api) as client:
            pages: list[Page[Clocking]] = [
                p async for p in client.clockings.start_delta("date ge '2026-01-01'")
            ]
            resumed: list[Page[Clocking]] = [
                p async for p in client.clockings.resume_delta(f"{PREFIX}/clockings?n=1")
            ]
            changes = await client.clockings.follow_delta(DELTA_LINK)
            assert changes.changes[0].is_delete and changes.changes[0].id == 1
            with pytest.raises(DeltaExpired):
                await client.clockings.follow_delta(changes.delta_link)
            return pages, resumed, changes.delta_link

    pages, resumed, link = run(scenario())
    assert [p.link for p in pages] == [f"{PREFIX}/clockings?n=1", DELTA_LINK]
    assert [p.delta_link for p in resumed] == [DELTA_LINK]
    assert link == DELTA_LINK + "2"
    assert api.api_requests[0].url.raw_path.endswith(b"&delta")


def test_retries_use_the_async_sleep_and_writes_follow_the_same_rules() -> None:
    api = FakeApi().add(
        error(503, "ServiceUnavailable", "Maintenance"),
        httpx.Response(201, json=clocking(8), headers={"Location": f"{PREFIX}/clockings/8"}),
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, json=clocking(8, 2)),
        httpx.Response(204),
        httpx.ReadTimeout("timed out"),
    )
    sleeps = Recorder()
    new = ClockingInput(person_id=1, date="2026-01-15", time_of_day_in_minutes=510, kind="InOut")

    async def scenario() -> None:
        async with make_async_client(api, sleeps=sleeps) as client:
            created = await client.clockings.create(new)
            assert created.id == 8
            updated = await client.clockings.update(8, new, if_match=f"{1:020X}")
            assert updated is not None and updated.change_version == f"{2:020X}"
            await client.clockings.delete(8)
            with pytest.raises(TransportError) as caught:
                await client.clockings.create(new)  # ambiguous: not repeated
            assert caught.value.maybe_applied

    run(scenario())
    assert sleeps.sleeps == [0.375, 0.375]
    assert [r.method for r in api.api_requests] == ["POST", "POST", "PUT", "PUT", "DELETE", "POST"]
    assert api.api_requests[2].headers["If-Match"] == f'"{1:020X}"'
    assert json.loads(api.api_requests[0].content)["kind"] == "InOut"


def test_get_and_repr() -> None:
    name = {"default": "Gate", "translations": {"nl": "Poort"}}
    api = FakeApi().add(httpx.Response(200, json={"id": 3, "name": name}))

    async def scenario() -> LocalizedText | None:
        async with make_async_client(api) as client:
            assert "secret" not in repr(client).lower() and "client-123" in repr(client)
            return (await client.terminals.get(3)).name

    assert run(scenario()) == LocalizedText("Gate", {"nl": "Poort"})


def test_get_by_reference() -> None:
    """Contract, "Addressing by reference": GET /people/{value}?externalReferences=..."""
    api = FakeApi().add(httpx.Response(200, json={"id": 7, "badgeNumber": "6767676"}))

    async def scenario() -> int:
        async with make_async_client(api) as client:
            return (await client.people.get_by_reference("@badge-number", "6767676")).id

    assert run(scenario()) == 7
    (request,) = api.api_requests
    assert request.url.raw_path == (
        b"/connector/protimeapi/api/v1/people/6767676?externalReferences=(people,@badge-number)"
    )


def test_the_raw_view_lists_the_decoded_objects() -> None:
    api = FakeApi().add(httpx.Response(200, json={"value": [clocking(1), clocking(2)]}))

    async def scenario() -> list[object]:
        async with make_async_client(api) as client:
            return [c async for c in client.clockings.raw.list("date ge '2026-01-01'")]

    assert run(scenario()) == [clocking(1), clocking(2)]
