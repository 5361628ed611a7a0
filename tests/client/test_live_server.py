"""The SDK over real HTTP against ``chronodelta serve`` (SQLite, loopback, small pages).

One server per module: tenant ``acme`` seeded through the CLI, as an operator does,
with a page size of 7 so that every list and snapshot spans several pages, and
"today" pinned so that the delta date rules hold whatever the calendar says.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chronodelta.client import (
    AsyncClient,
    Client,
    ClockingInput,
    Conflict,
    DeltaExpired,
    NotFound,
    date_filter,
)
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

USER_AGENT = "SdkLiveTests/1.0 (Chronodelta)"
TODAY = "2026-01-20"
RANGE = date_filter("2026-01-14", "2026-01-20")
PAGE_SIZE = 7


@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, Any]]]:
    url = new_database_url(request, "sqlite", tmp_path_factory.mktemp("sdk"))
    credentials = provision_with_cli(url, people=3, days=7, until=TODAY)
    env = {"CHRONODELTA_PAGE_SIZE": str(PAGE_SIZE), "CHRONODELTA_TODAY": TODAY}
    with ServerProcess(url, env=env) as server:
        yield server, credentials


def connect(served: tuple[ServerProcess, dict[str, Any]]) -> Client:
    server, credentials = served
    return Client(
        server.base_url,
        "acme",
        credentials["client_id"],
        credentials["client_secret"],
        user_agent=USER_AGENT,
    )


def raw_walk(served: tuple[ServerProcess, dict[str, Any]], path: str) -> list[dict[str, Any]]:
    """The list as plain HTTP sees it, following every nextLink."""
    server, credentials = served
    records: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.base_url, headers={"User-Agent": USER_AGENT}) as http:
        auth = bearer(http, credentials)
        link: str | None = path
        while link is not None:
            body = http.get(link, headers=auth).json()
            records += body["value"]
            link = body.get("nextLink")
    return records


def new_clocking(minutes: int) -> ClockingInput:
    return ClockingInput(
        person_id=1, date="2026-01-16", time_of_day_in_minutes=minutes, kind="InOut"
    )


def test_lists_page_through_everything_the_server_has(
    served: tuple[ServerProcess, dict[str, Any]],
) -> None:
    with connect(served) as client:
        pages = list(client.clockings.pages(RANGE))
        clockings = list(client.clockings.list(RANGE))
        people = list(client.people.list())
        badges = list(
            client.clockings.list(RANGE, external_references=[("people", "@badge-number")])
        )
    assert len(pages) > 2 and all(len(p.records) <= PAGE_SIZE for p in pages)
    expected = raw_walk(served, "/connector/protimeapi/api/v1/clockings?filter=" + RANGE)
    assert [c.raw for c in clockings] == expected
    assert [r for p in pages for r in p.records] == clockings
    assert {p.id for p in people} == {1, 2, 3} and all(p.last_name for p in people)
    by_person = {p.id: p.badge_number for p in people}
    assert len(badges) == len(clockings)
    for clocking in badges:
        assert clocking.person.external_references == {
            "@badge-number": by_person[clocking.person.id]
        }


def test_calculated_totals_are_listed_got_and_followed(
    served: tuple[ServerProcess, dict[str, Any]],
) -> None:
    """Contract, "Fidelity": calculated-totals, with list, get and delta."""
    with connect(served) as client:
        totals = list(client.calculated_totals.list(RANGE))
        expected = raw_walk(
            served, "/connector/protimeapi/api/v1/calculated-totals?filter=" + RANGE
        )
        assert totals and [t.raw for t in totals] == expected
        assert client.calculated_totals.get(totals[0].id) == totals[0]
        pages = list(client.calculated_totals.start_delta(date_filter("2026-01-14")))
        assert {r.id for p in pages for r in p.records} == {t.id for t in totals}
        link = client.calculated_totals.follow_delta(pages[-1].link or "").delta_link
        created = [client.clockings.create(new_clocking(m)) for m in (1080, 1200)]
        changes = client.calculated_totals.follow_delta(link).changes
        for clocking in created:
            client.clockings.delete(clocking.id)
        day = [c.record for c in changes if c.record and c.record.date.isoformat() == "2026-01-16"]
        assert [(t.person.id, t.date) for t in day if t] == [(1, dt.date(2026, 1, 16))]


def test_clockings_are_created_read_updated_and_deleted(
    served: tuple[ServerProcess, dict[str, Any]],
) -> None:
    with connect(served) as client:
        created = client.clockings.create(new_clocking(505))
        assert created.record is not None
        fetched = client.clockings.get(created.id)
        assert fetched == created.record
        assert (fetched.time_of_day_in_minutes, fetched.status) == (505, "Active")

        later = dataclasses.replace(fetched.to_input(), time_of_day_in_minutes=520)
        changed = client.clockings.update(created.id, later, if_match=fetched.etag)
        assert changed is not None and changed.time_of_day_in_minutes == 520
        assert changed.original_time_of_day_in_minutes == 505
        assert changed.change_version > fetched.change_version
        with pytest.raises(Conflict):
            client.clockings.update(created.id, new_clocking(530), if_match=fetched.change_version)

        client.clockings.delete(created.id, if_match=changed.change_version)
        assert client.clockings.get(created.id).is_deleted
        with pytest.raises(NotFound):
            client.clockings.get(10**9)


def test_a_delta_is_started_walked_and_followed(
    served: tuple[ServerProcess, dict[str, Any]],
) -> None:
    with connect(served) as client:
        pages = list(client.clockings.start_delta(date_filter("2026-01-14")))
        assert len(pages) > 2
        assert all(p.next_link for p in pages[:-1]) and pages[-1].delta_link
        snapshot = {r.id: r for p in pages for r in p.records}
        assert snapshot == {
            c.id: c for c in client.clockings.list(date_filter("2026-01-14", TODAY))
        }
        # The first call repeats what changed shortly before the start (the overlap).
        repeats = client.clockings.follow_delta(pages[-1].link or "")
        assert {c.id for c in repeats.changes} <= set(snapshot)

        created = client.clockings.create(new_clocking(600))
        moved = client.clockings.update(created.id, ClockingInput(
            person_id=1, date="2026-01-10", time_of_day_in_minutes=600, kind="InOut"))  # fmt: skip
        assert moved is not None
        (leaving_id, leaving) = next(iter(snapshot.items()))
        client.clockings.delete(leaving_id)

        changes = client.clockings.follow_delta(repeats.delta_link)
        by_id = {c.id: c for c in changes.changes}
        # Created, then moved out of the filter before the client saw it: at most a Delete.
        assert created.id not in by_id or by_id[created.id].record is None
        soft_deleted = by_id[leaving_id]
        assert soft_deleted.change_type == "InsertOrUpdate" and soft_deleted.record is not None
        assert soft_deleted.record.is_deleted
        assert leaving.change_version < by_id[leaving_id].change_version

        quiet = client.clockings.follow_delta(changes.delta_link)
        assert quiet.changes == () and quiet.delta_link != changes.delta_link

        # A new delta supersedes this one: its links answer 410.
        next(iter(client.clockings.start_delta(date_filter("2026-01-19"))))
        with pytest.raises(DeltaExpired) as caught:
            client.clockings.follow_delta(quiet.delta_link)
        assert caught.value.status_code == 410 and caught.value.message


def test_the_async_client_does_the_same_over_http(
    served: tuple[ServerProcess, dict[str, Any]],
) -> None:
    server, credentials = served

    async def scenario() -> None:
        async with AsyncClient(
            server.base_url,
            "acme",
            credentials["client_id"],
            credentials["client_secret"],
            user_agent=USER_AGENT,
        ) as client:
            listed = [c async for c in client.clockings.list(RANGE)]
            assert len(listed) > PAGE_SIZE

            pages = [p async for p in client.clockings.start_delta(date_filter("2026-01-14"))]
            link = pages[-1].delta_link
            assert link is not None and len(pages) > 2
            link = (await client.clockings.follow_delta(link)).delta_link

            created = await client.clockings.create(new_clocking(700))
            assert (await client.clockings.get(created.id)).time_of_day_in_minutes == 700
            updated = await client.clockings.update(created.id, new_clocking(705))
            assert updated is not None
            changes = await client.clockings.follow_delta(link)
            (change,) = [c for c in changes.changes if c.id == created.id]
            assert change.record == updated

            await client.clockings.delete(created.id)
            after = await client.clockings.follow_delta(changes.delta_link)
            (deleted,) = after.changes
            assert deleted.record is not None and deleted.record.is_deleted

            people = await asyncio.gather(*(client.people.get(i) for i in (1, 2, 3)))
            assert [p.id for p in people] == [1, 2, 3]

    asyncio.run(scenario())
