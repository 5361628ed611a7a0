"""Streamed deltaLink responses (``stream_delta``): batches from a body decoded whole
within the buffer or parsed as it arrives past it, the same checks as ``follow_delta``,
chunk boundaries anywhere, and the same retries, 401 refresh and 410."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chronodelta.client import (
    Change,
    Clocking,
    Collection,
    DeltaExpired,
    InvalidResponse,
    RetriableError,
    TransportError,
)
from chronodelta.client._paging import parse_changes
from chronodelta.client._protocol import as_is
from chronodelta.client._stream import ChangeReader

from .fakes import (
    PREFIX,
    ChunkedBody,
    FakeApi,
    Recorder,
    chunked,
    clocking,
    error,
    make_async_client,
    make_client,
)

T = TypeVar("T")
LINK = f"{PREFIX}/delta/clockings?deltaToken=eyJkZWx0YUlk"
NEXT = LINK + "next"
SMALL = 64  # a buffer limit every body here exceeds: parsed as it arrives
WHOLE = 10**6  # one no body here exceeds: decoded whole
LIMITS = pytest.mark.parametrize("buffer_limit", [SMALL, WHOLE], ids=["incremental", "whole"])

Wire = dict[str, Any]


def upsert(record: Wire) -> Wire:
    return {"changeType": "InsertOrUpdate", "data": record}


def delete(record_id: int, version: int) -> Wire:
    return {"changeType": "Delete", "data": {"changeVersion": f"{version:020X}", "id": record_id}}


def items(count: int) -> list[Wire]:
    """Changes of every kind: updates, soft deletes (records), Deletes."""
    found: list[Wire] = []
    for n in range(1, count + 1):
        if n % 5 == 0:
            found.append(delete(n, n))
        else:
            found.append(upsert(clocking(n, n, status="Deleted" if n % 7 == 0 else "Active")))
    return found


def body(count: int, **top: Any) -> bytes:
    return orjson.dumps({"value": items(count), "deltaLink": NEXT, **top})


def read(
    api: FakeApi, *, batch_size: int, buffer_limit: int, raw: bool = False
) -> tuple[list[tuple[Change[Any], ...]], str | None]:
    with make_client(api) as client:
        collection: Collection[Any] = client.clockings.raw if raw else client.clockings
        with collection.stream_delta(
            LINK, batch_size=batch_size, buffer_limit=buffer_limit
        ) as stream:
            batches = list(stream)
            return batches, stream.delta_link


def run(awaitable: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await awaitable

    return asyncio.run(wrapper())


def read_async(
    api: FakeApi, *, batch_size: int, buffer_limit: int
) -> tuple[list[tuple[Change[Clocking], ...]], str | None]:
    async def scenario() -> tuple[list[tuple[Change[Clocking], ...]], str | None]:
        async with make_async_client(api) as client:
            stream = client.clockings.stream_delta(
                LINK, batch_size=batch_size, buffer_limit=buffer_limit
            )
            async with stream:
                batches = [batch async for batch in stream]
                return batches, stream.delta_link

    return run(scenario())


def expected(data: bytes, raw: bool = False) -> list[Change[Any]]:
    parse = as_is if raw else Clocking.from_wire
    return list(parse_changes(orjson.loads(data), parse).changes)


# ---- batches ----------------------------------------------------------------------


@LIMITS
def test_batches_hold_the_changes_in_response_order_as_follow_delta_reads_them(
    buffer_limit: int,
) -> None:
    data = body(23)
    api = FakeApi().add(chunked(data, 100), httpx.Response(200, content=data))
    batches, link = read(api, batch_size=5, buffer_limit=buffer_limit)
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]
    with make_client(api) as client:
        whole = client.clockings.follow_delta(LINK)
    assert [c for batch in batches for c in batch] == list(whole.changes) == expected(data)
    assert all(isinstance(batch, tuple) for batch in batches)
    assert link == whole.delta_link == NEXT


@LIMITS
def test_the_raw_view_streams_records_as_received(buffer_limit: int) -> None:
    data = body(9)
    batches, link = read(
        FakeApi().add(chunked(data, 50)), batch_size=4, buffer_limit=buffer_limit, raw=True
    )
    flat = [c for batch in batches for c in batch]
    assert flat == expected(data, raw=True) and link == NEXT
    assert all(type(c.record) is dict for c in flat if not c.is_delete)


@LIMITS
def test_the_async_client_streams_the_same_batches(buffer_limit: int) -> None:
    data = body(12)
    api = FakeApi().add(chunked(data, 77))
    batches, link = read_async(api, batch_size=5, buffer_limit=buffer_limit)
    assert [len(batch) for batch in batches] == [5, 5, 2]
    assert [c for batch in batches for c in batch] == expected(data) and link == NEXT


def test_batches_come_while_the_body_is_still_arriving() -> None:
    # The point of streaming: the first batches are handed out after a fraction of the
    # body, and the parser never waits for the rest.
    data = body(400)
    response = chunked(data, 1000)
    stream = response.stream
    assert isinstance(stream, ChunkedBody)
    api = FakeApi().add(response)
    read_when: list[int] = []
    with (
        make_client(api) as client,
        client.clockings.stream_delta(LINK, batch_size=50, buffer_limit=2000) as delta,
    ):
        for _ in delta:
            read_when.append(stream.sent)
    # Batch n is handed out after about n/8 of the body (changes are of uneven size).
    chunks = len(stream.chunks)
    assert len(read_when) == 8 and read_when[-1] == chunks
    assert all(
        n * chunks / 8 - 4 <= sent <= (n + 1) * chunks / 8 + 4
        for n, sent in enumerate(read_when[:-1], start=1)
    ), (read_when, chunks)


@LIMITS
def test_an_empty_delta_gives_no_batch_and_the_next_link(buffer_limit: int) -> None:
    data = json.dumps({"value": [], "deltaLink": NEXT, "padding": "x" * 100}).encode()
    batches, link = read(FakeApi().add(chunked(data, 7)), batch_size=5, buffer_limit=buffer_limit)
    assert (batches, link) == ([], NEXT)


# ---- whatever the formatting --------------------------------------------------------

GUID = "5d6c2a70-1b3e-5f49-8a2d-3c4b5a697887"  # seed 003: an activity definition id is a string
TRICKY = [
    upsert(clocking(1, 1, terminal={"id": 2}, geolocation={"longitude": -4.25, "latitude": 51.5})),
    upsert(clocking(2, 2, kind="Activity", note='a "quote", a \\ backslash, é, 😀, \u0001, \n')),
    upsert(clocking(3, 3, timeOfDayInMinutes=-1440, originalTimeOfDayInMinutes=2880)),
    upsert(clocking(4, 4, activityLevels=[{"level": 1, "activityDefinition": {"id": GUID}}])),
    delete(5, 5),
]


def formatted(style: str) -> bytes:
    if style == "compact":
        return orjson.dumps({"value": TRICKY, "deltaLink": NEXT})
    if style == "link first, spaced, ascii escapes":
        return json.dumps({"deltaLink": NEXT, "value": TRICKY}, indent=3).encode()
    # Other key orders, other number spellings, whitespace everywhere, an extra key.
    reordered = [{"data": item["data"], "changeType": item["changeType"]} for item in TRICKY]
    text = json.dumps(
        {"@odata.context": "x[]{}", "value": reordered, "deltaLink": NEXT},
        ensure_ascii=False,
        separators=(" ,\r\n", " :\t"),
    )
    return text.replace("-1440", "-1.44e3").replace("2880", "2880.0").encode()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13])
@pytest.mark.parametrize(
    "style", ["compact", "link first, spaced, ascii escapes", "reordered, odd numbers"]
)
def test_chunks_may_end_anywhere_inside_strings_escapes_and_numbers(size: int, style: str) -> None:
    data = formatted(style)
    for buffer_limit in (SMALL, WHOLE):
        api = FakeApi().add(chunked(data, size))
        batches, link = read(api, batch_size=2, buffer_limit=buffer_limit, raw=True)
        assert [c for batch in batches for c in batch] == expected(data, raw=True)
        assert link == NEXT


def reader() -> ChangeReader[Wire]:
    request = httpx.Request("GET", "https://acme.myprotime.eu" + LINK)
    return ChangeReader(as_is, request, httpx.Response(200), batch_size=3)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_any_split_of_the_body_parses_as_the_whole(cuts: list[int]) -> None:
    data = formatted("reordered, odd numbers") + b"  \n"
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    reading = reader()
    changes = [
        change
        for start, end in itertools.pairwise(points)
        for batch in reading.feed(data[start:end])
        for change in batch
    ]
    changes += [change for batch in reading.end() for change in batch]
    assert changes == expected(data, raw=True) and reading.delta_link == NEXT


# ---- outside the contract ------------------------------------------------------------

PADDING = orjson.dumps(items(6))[1:-1]  # valid changes before the defect


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body>" + b"a proxy's error page " * 10 + b"</body></html>",
        b'{"value": [' + PADDING + b'], "deltaLink": "' + NEXT.encode(),  # ends mid-way
        body(6) + b" and more",
        b'[{"value": [' + PADDING + b'], "deltaLink": "/x"}]',
        b'{"value": {"item": ' + orjson.dumps(items(1)[0]) + b'}, "deltaLink": "/x"}',
        b'{"deltaLink": "/x", "value": [' + PADDING + b', "\xff"]}',
        b'{"value": [' + PADDING + b', {"changeType": "Upsert", "data": {"id": 1, '
        b'"changeVersion": "A"}}], "deltaLink": "/x"}',
        b'{"value": [' + PADDING + b', {"changeType": "Delete", "data": {"id": 1}}], '
        b'"deltaLink": "/x"}',
        b'{"value": [' + PADDING + b', {"changeType": "Delete"}], "deltaLink": "/x"}',
        b'{"value": [' + PADDING + b', 7], "deltaLink": "/x"}',
        b'{"value": [' + PADDING + b"]}",  # no deltaLink
        b'{"value": [' + PADDING + b'], "deltaLink": ""}',
        b'{"deltaLink": "/x", "other": [' + PADDING + b"]}",  # no value
    ],
    ids=[
        "not JSON",
        "cut short",
        "trailing garbage",
        "an array",
        "value is an object",
        "not UTF-8",
        "unknown changeType",
        "Delete without changeVersion",
        "no data",
        "a change that is a number",
        "no deltaLink",
        "empty deltaLink",
        "no value",
    ],
)
def test_a_body_outside_the_contract_is_an_invalid_response(data: bytes) -> None:
    assert len(data) > SMALL
    for buffer_limit in (SMALL, WHOLE):
        api = FakeApi().add(chunked(data, 16))
        with make_client(api) as client:
            stream = client.clockings.stream_delta(LINK, batch_size=2, buffer_limit=buffer_limit)
            with stream, pytest.raises(InvalidResponse):
                for _ in stream:
                    pass
            assert stream.delta_link is None


def test_a_value_list_twice_is_refused_once_its_first_changes_were_handed_out() -> None:
    # Decoded whole, the last list wins (as follow_delta reads it); parsed as it comes,
    # the first one's changes are gone when the second starts: refused.
    data = b'{"value": [' + PADDING + b'], "value": [], "deltaLink": "/x"}'
    api = FakeApi().add(chunked(data, 16), chunked(data, 16))
    assert read(api, batch_size=2, buffer_limit=WHOLE) == ([], "/x")
    with pytest.raises(InvalidResponse, match="one 'value' list"):
        read(api, batch_size=2, buffer_limit=SMALL)


def test_a_body_that_is_not_json_names_the_request() -> None:
    api = FakeApi().add(chunked(b"{" * 200, 10))
    with (
        make_client(api) as client,
        client.clockings.stream_delta(LINK, buffer_limit=20) as stream,
        pytest.raises(InvalidResponse, match="HTTP 200 with a body that is not JSON") as e,
    ):
        list(stream)
    assert e.value.url == LINK and e.value.method == "GET"


# ---- broken connections, retries, errors -----------------------------------------------


def test_a_body_cut_past_the_buffer_raises_transport_error_after_the_batches_so_far() -> None:
    data = body(30)
    api = FakeApi().add(chunked(data, 64, cut_at=len(data) // 2))
    sleeps = Recorder()
    received = []
    with make_client(api, sleeps=sleeps) as client:
        stream = client.clockings.stream_delta(LINK, batch_size=4, buffer_limit=SMALL)
        with stream, pytest.raises(TransportError) as caught:
            for batch in stream:
                received.append(batch)
    failure = caught.value
    assert isinstance(failure, RetriableError) and not isinstance(failure, httpx.HTTPError)
    assert isinstance(failure.__cause__, httpx.RemoteProtocolError)
    assert (failure.method, failure.url) == ("GET", LINK)
    assert received and [c for b in received for c in b] == expected(data)[: 4 * len(received)]
    assert stream.delta_link is None
    assert len(api.api_requests) == 1 and sleeps.sleeps == []  # the caller's to retry


def test_the_async_client_raises_transport_error_for_a_cut_body_too() -> None:
    data = body(30)
    api = FakeApi().add(chunked(data, 64, cut_at=len(data) - 10))

    async def scenario() -> int:
        received = 0
        async with make_async_client(api) as client:
            stream = client.clockings.stream_delta(LINK, batch_size=4, buffer_limit=SMALL)
            async with stream:
                with pytest.raises(TransportError):
                    async for _ in stream:
                        received += 1
            assert stream.delta_link is None
        return received

    assert run(scenario()) == 7


@pytest.mark.parametrize(("buffer_limit", "cut_at"), [(WHOLE, 300), (1000, 600)])
def test_a_body_cut_within_the_buffer_is_read_again_as_follow_delta_would(
    buffer_limit: int, cut_at: int
) -> None:
    # Nothing was handed out yet: the client retries the GET by itself.
    data = body(30)
    assert cut_at < buffer_limit < len(data) or buffer_limit == WHOLE
    api = FakeApi().add(chunked(data, 64, cut_at=cut_at), chunked(data, 64))
    sleeps = Recorder()
    with (
        make_client(api, sleeps=sleeps) as client,
        client.clockings.stream_delta(LINK, batch_size=7, buffer_limit=buffer_limit) as stream,
    ):
        changes = [c for batch in stream for c in batch]
    assert changes == expected(data) and stream.delta_link == NEXT
    assert len(api.api_requests) == 2 and sleeps.sleeps == [0.375]


def test_the_async_client_reads_a_cut_head_again() -> None:
    data = body(10)
    api = FakeApi().add(chunked(data, 64, cut_at=100), chunked(data, 64))
    batches, link = read_async(api, batch_size=100, buffer_limit=WHOLE)
    assert [c for batch in batches for c in batch] == expected(data) and link == NEXT
    assert len(api.api_requests) == 2


def test_an_expired_delta_raises_delta_expired_on_entering_and_is_not_retried() -> None:
    api = FakeApi().add(
        error(410, "Gone", "The delta has expired", "Start a new delta with the list request")
    )
    sleeps = Recorder()
    with make_client(api, sleeps=sleeps) as client:
        stream = client.clockings.stream_delta(LINK)
        with pytest.raises(DeltaExpired) as caught, stream:
            pytest.fail("entered an expired delta")
    assert caught.value.reasons == ("Start a new delta with the list request",)
    assert len(api.api_requests) == 1 and sleeps.sleeps == []
    assert stream.delta_link is None


def test_the_async_client_raises_delta_expired_on_entering() -> None:
    api = FakeApi().add(error(410, "Gone", "The delta was superseded"))

    async def scenario() -> None:
        async with make_async_client(api) as client:
            with pytest.raises(DeltaExpired, match="superseded"):
                async with client.clockings.stream_delta(LINK):
                    pytest.fail("entered a superseded delta")

    run(scenario())


def test_busy_servers_are_retried_and_a_refused_token_renewed_once() -> None:
    data = body(8)
    api = FakeApi().add(
        error(503, "ServiceUnavailable", "Maintenance", **{"Retry-After": "2"}),
        httpx.ReadTimeout("timed out"),
        error(401, "Unauthorized", "The token expired"),
        chunked(data, 10),
    )
    sleeps = Recorder()
    with (
        make_client(api, sleeps=sleeps) as client,
        client.clockings.stream_delta(LINK, batch_size=3, buffer_limit=SMALL) as stream,
    ):
        changes = [c for batch in stream for c in batch]
    assert changes == expected(data) and stream.delta_link == NEXT
    assert sleeps.sleeps == [2.0, 0.75]
    assert [api.bearer(i) for i in range(4)] == ["Bearer token-1"] * 3 + ["Bearer token-2"]


@LIMITS
def test_leaving_early_closes_the_response_and_keeps_no_link(buffer_limit: int) -> None:
    response = chunked(body(40), 64)
    sent = response.stream
    assert isinstance(sent, ChunkedBody)
    api = FakeApi().add(response)
    with make_client(api) as client:
        stream = client.clockings.stream_delta(LINK, batch_size=5, buffer_limit=buffer_limit)
        with stream:
            for _ in stream:
                break
            assert stream.delta_link is None  # even if the whole body was read
        assert stream.delta_link is None
        assert response.is_closed and sent.closed
        assert sent.sent < len(sent.chunks) or buffer_limit == WHOLE


def test_a_stream_is_entered_before_it_is_read_and_read_once() -> None:
    api = FakeApi().add(chunked(body(3), 64))
    with make_client(api) as client:
        stream = client.clockings.stream_delta(LINK)
        with pytest.raises(RuntimeError, match="with"):
            list(stream)
        assert api.api_requests == []
        with stream:
            assert len(list(stream)) == 1
            with pytest.raises(RuntimeError, match="once"):
                list(stream)


def test_bad_options_and_links_to_another_server_are_refused_before_sending() -> None:
    api = FakeApi()
    with make_client(api) as client:
        with pytest.raises(ValueError, match="batch_size"):
            client.clockings.stream_delta(LINK, batch_size=0)
        with pytest.raises(ValueError, match="buffer_limit"):
            client.clockings.stream_delta(LINK, buffer_limit=-1)
        with pytest.raises(ValueError):
            client.clockings.stream_delta("https://evil.example/delta/clockings?deltaToken=x")
        assert client.retry.max_attempts == 4  # the policy a caller's own retries use
    assert api.token_requests == [] and api.api_requests == []
