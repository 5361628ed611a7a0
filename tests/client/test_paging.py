"""Auto-paging lists and delta: snapshot pages, deltaLink responses, 410."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from chronodelta.client import (
    Change,
    ClientError,
    Clocking,
    Conflict,
    ContinuationTokenConflict,
    DeltaExpired,
    FatalError,
    InvalidResponse,
    Person,
)
from chronodelta.client._paging import Pager

from .fakes import PREFIX, FakeApi, Recorder, clocking, error, make_client

LIST = f"{PREFIX}/clockings?filter=date%20ge%20'2026-01-01'%20and%20date%20le%20'2026-01-31'"
FILTER = "date ge '2026-01-01' and date le '2026-01-31'"
DELTA_LINK = f"{PREFIX}/delta/clockings?deltaToken=eyJkZWx0YUlk"


def page(*records: dict[str, Any], **links: str) -> httpx.Response:
    return httpx.Response(200, json={"value": list(records), **links})


def paths(api: FakeApi) -> list[str]:
    return [r.url.raw_path.decode() for r in api.api_requests]


def test_a_list_follows_next_links_past_empty_pages_until_there_is_none() -> None:
    api = FakeApi().add(
        page(clocking(1), clocking(2), nextLink=f"{LIST}&continuationToken=t1"),
        page(nextLink=f"{LIST}&continuationToken=t2"),  # empty is not the end
        page(clocking(3), nextLink=f"{LIST}&continuationToken=t3"),
        page(),
    )
    with make_client(api) as client:
        records = list(client.clockings.list(FILTER))
    assert [r.id for r in records] == [1, 2, 3]
    assert all(isinstance(r, Clocking) for r in records)
    assert paths(api) == [
        LIST,
        f"{LIST}&continuationToken=t1",
        f"{LIST}&continuationToken=t2",
        f"{LIST}&continuationToken=t3",
    ]


def test_pages_carry_their_links_and_nothing_is_sent_before_iterating() -> None:
    api = FakeApi().add(page(clocking(1), nextLink=f"{LIST}&continuationToken=t1"), page())
    with make_client(api) as client:
        pages = client.clockings.pages(FILTER)
        assert api.api_requests == []
        first, last = list(pages)
    assert (first.next_link, first.link, first.is_last) == (
        f"{LIST}&continuationToken=t1",
        f"{LIST}&continuationToken=t1",
        False,
    )
    assert (last.records, last.next_link, last.delta_link, last.is_last) == ((), None, None, True)


def test_a_list_resumes_from_a_stored_next_link() -> None:
    api = FakeApi().add(page(clocking(9)))
    with make_client(api) as client:
        resumed = list(client.clockings.resume_pages(f"{LIST}&continuationToken=t7"))
    assert [p.records[0].id for p in resumed] == [9]
    assert paths(api) == [f"{LIST}&continuationToken=t7"]


def test_reference_lists_take_no_filter_and_parse_their_model() -> None:
    person = {"changeVersion": "0000000000000000000A", "id": 1, "firstName": "Ann"}
    api = FakeApi().add(page(person))
    with make_client(api) as client:
        (found,) = client.people.list()
    assert isinstance(found, Person) and found.first_name == "Ann"
    assert paths(api) == [f"{PREFIX}/people"]


def test_a_next_link_that_repeats_itself_stops_the_loop() -> None:
    pager = Pager(LIST, Clocking.from_wire, delta=False)
    with pytest.raises(InvalidResponse, match="repeats"):
        pager.accept({"value": [], "nextLink": LIST})


@pytest.mark.parametrize(
    "body",
    [[], {"value": {}}, {"nextLink": "/x"}, {"value": [], "nextLink": 3}, {"value": [{"id": 1}]}],
)
def test_pages_outside_the_contract_are_invalid_responses(body: object) -> None:
    api = FakeApi().add(httpx.Response(200, json=body))
    with make_client(api) as client, pytest.raises(InvalidResponse):
        list(client.clockings.list(FILTER))


def test_a_body_that_is_not_json_is_an_invalid_response() -> None:
    api = FakeApi().add(httpx.Response(200, content=b"<html>proxy</html>"))
    with make_client(api) as client, pytest.raises(InvalidResponse, match="not JSON"):
        list(client.clockings.list(FILTER))


# ---- delta ------------------------------------------------------------------------


def snapshot_link(n: int) -> str:
    return f"{PREFIX}/clockings?filter=date%20ge%20'2026-01-01'&continuationToken=c{n}&deltaToken=d"


def test_a_delta_walks_its_snapshot_pages_to_the_delta_link() -> None:
    api = FakeApi().add(
        page(clocking(1), nextLink=snapshot_link(1)),
        page(clocking(2), nextLink=snapshot_link(2)),
        page(deltaLink=DELTA_LINK),  # the last page may be empty
    )
    with make_client(api) as client:
        pages = list(
            client.clockings.start_delta(
                "date ge '2026-01-01'", external_references=[("people", "@badge-number")]
            )
        )
    assert [[r.id for r in p.records] for p in pages] == [[1], [2], []]
    assert [p.link for p in pages] == [snapshot_link(1), snapshot_link(2), DELTA_LINK]
    assert (pages[-1].next_link, pages[-1].delta_link) == (None, DELTA_LINK)
    assert paths(api) == [
        f"{PREFIX}/clockings?filter=date%20ge%20'2026-01-01'&delta"
        "&externalReferences=(people,@badge-number)",
        snapshot_link(1),
        snapshot_link(2),
    ]


def test_a_delta_resumes_from_a_stored_next_link() -> None:
    api = FakeApi().add(page(clocking(2), deltaLink=DELTA_LINK))
    with make_client(api) as client:
        (last,) = client.clockings.resume_delta(snapshot_link(1))
    assert last.delta_link == DELTA_LINK
    assert paths(api) == [snapshot_link(1)]


@pytest.mark.parametrize(
    "links", [{}, {"nextLink": snapshot_link(1), "deltaLink": DELTA_LINK}]
)  # fmt: skip
def test_a_snapshot_page_needs_exactly_one_link(links: dict[str, str]) -> None:
    api = FakeApi().add(page(clocking(1), **links))
    with make_client(api) as client, pytest.raises(InvalidResponse, match="exactly one"):
        list(client.clockings.start_delta("date ge '2026-01-01'"))


def test_following_a_delta_link_gives_the_changes_and_the_next_link() -> None:
    updated = clocking(1050, 11, date="2026-01-02")
    deleted = {"changeVersion": "0000000000000000000C", "id": 1001}
    body = {
        "value": [
            {"changeType": "InsertOrUpdate", "data": updated},
            {"changeType": "Delete", "data": deleted},
        ],
        "deltaLink": DELTA_LINK + "new",
    }
    api = FakeApi().add(httpx.Response(200, json=body))
    with make_client(api) as client:
        changes = client.clockings.follow_delta(DELTA_LINK)
    assert changes.delta_link == DELTA_LINK + "new"
    first, second = changes.changes
    assert first == Change("InsertOrUpdate", 1050, f"{11:020X}", Clocking.from_wire(updated))
    assert first.raw == updated and not first.is_delete
    assert first.record is not None and first.record.raw is first.raw
    assert second == Change("Delete", 1001, "0000000000000000000C", None)
    assert second.is_delete and second.raw == deleted
    assert paths(api) == [DELTA_LINK]


def test_an_empty_delta_response_still_moves_the_link_on() -> None:
    api = FakeApi().add(httpx.Response(200, json={"value": [], "deltaLink": DELTA_LINK + "2"}))
    with make_client(api) as client:
        changes = client.clockings.follow_delta(DELTA_LINK)
    assert (changes.changes, changes.delta_link) == ((), DELTA_LINK + "2")


@pytest.mark.parametrize(
    "body",
    [
        {"value": []},  # no deltaLink
        {"value": [{"changeType": "Upsert", "data": {"id": 1, "changeVersion": "A"}}],
         "deltaLink": DELTA_LINK},
        {"value": [{"changeType": "Delete", "data": {"id": 1}}], "deltaLink": DELTA_LINK},
        {"value": [{"data": {"id": 1}}], "deltaLink": DELTA_LINK},
    ],
)  # fmt: skip
def test_delta_responses_outside_the_contract_are_invalid(body: object) -> None:
    api = FakeApi().add(httpx.Response(200, json=body))
    with make_client(api) as client, pytest.raises(InvalidResponse):
        client.clockings.follow_delta(DELTA_LINK)


def test_an_expired_delta_raises_delta_expired_with_the_reasons_and_is_not_retried() -> None:
    api = FakeApi().add(
        error(410, "Gone", "The delta has expired", "Start a new delta with the list request")
    )
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client, pytest.raises(DeltaExpired) as caught:
        client.clockings.follow_delta(DELTA_LINK)
    expired = caught.value
    assert isinstance(expired, ClientError) and isinstance(expired, FatalError)
    assert (expired.status_code, expired.code, expired.message) == (
        410,
        "Gone",
        "The delta has expired",
    )
    assert expired.reasons == ("Start a new delta with the list request",)
    assert len(api.api_requests) == 1 and sleeps.sleeps == []


def test_a_superseded_delta_during_the_snapshot_raises_delta_expired() -> None:
    api = FakeApi().add(
        page(clocking(1), nextLink=snapshot_link(1)),
        error(410, "Gone", "The delta was superseded"),
    )
    received = []
    with make_client(api) as client, pytest.raises(DeltaExpired, match="superseded"):
        for snapshot in client.clockings.start_delta("date ge '2026-01-01'"):
            received.append(snapshot)
    assert len(received) == 1


def test_links_to_another_server_are_refused_before_anything_is_sent() -> None:
    api = FakeApi()
    with make_client(api) as client:
        with pytest.raises(ValueError):
            client.clockings.follow_delta("https://evil.example/delta/clockings?deltaToken=x")
        with pytest.raises(ValueError):
            client.clockings.resume_delta("https://evil.example/x")
    assert api.token_requests == [] and api.api_requests == []


def test_the_raw_view_gives_records_as_received_in_lists_deltas_and_changes() -> None:
    updated = clocking(7, 3, isOpen=True)  # a field the model would not keep as it is
    api = FakeApi().add(
        page(clocking(1), nextLink=f"{LIST}&continuationToken=t1"),
        page(clocking(2)),
        page(updated, deltaLink=DELTA_LINK),
        httpx.Response(
            200,
            json={
                "value": [{"changeType": "InsertOrUpdate", "data": updated}],
                "deltaLink": DELTA_LINK + "2",
            },
        ),
    )
    with make_client(api) as client:
        raw = client.clockings.raw
        assert raw.name == "clockings"
        listed = list(raw.list(FILTER))
        [snapshot] = list(raw.start_delta(FILTER))
        changes = raw.follow_delta(DELTA_LINK)
    assert listed == [clocking(1), clocking(2)]
    assert snapshot.records == (updated,) and snapshot.delta_link == DELTA_LINK
    [change] = changes.changes
    assert change.record == updated and (change.id, change.change_version) == (7, f"{3:020X}")


def test_a_raw_record_that_is_not_an_object_is_an_invalid_response() -> None:
    api = FakeApi().add(page(clocking(1), [1, 2]))  # type: ignore[arg-type]
    with make_client(api) as client, pytest.raises(InvalidResponse, match="not an object"):
        list(client.clockings.raw.list(FILTER))


def test_a_409_on_a_page_is_a_continuation_token_conflict_and_is_not_retried() -> None:
    """Contract, "Fidelity", "Paging": an invalid or expired continuation token answers
    409 "Continuation token conflict"; the caller starts the list again."""
    api = FakeApi().add(
        page(clocking(1), nextLink=f"{LIST}&continuationToken=t1"),
        error(409, "Conflict", "Continuation token conflict", "The continuationToken is invalid"),
    )
    with make_client(api) as client, pytest.raises(ContinuationTokenConflict) as raised:
        list(client.clockings.list(FILTER))
    assert isinstance(raised.value, Conflict) and isinstance(raised.value, FatalError)
    assert raised.value.message == "Continuation token conflict"
    assert len(api.api_requests) == 2  # a fatal error: asked once
