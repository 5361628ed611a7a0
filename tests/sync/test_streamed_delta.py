"""A delta response read in batches by the sync (small limits here, so that a few
dozen changes stream): a body that breaks off after batches were written rolls back
and is read again from the stored link; retries are bounded; a stop waits no more."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chronodelta.client import RetryPolicy, TransportError
from chronodelta.sync import Mirror, SyncRequest, SyncResult, _runner, run_sync

from .conftest import SINCE, Source
from .writes import assert_mirror_equals_source, mirror_state, random_writes

ALL = ("clockings", "paid-presences")
BUFFER_LIMIT = 600


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runner, "DELTA_BATCH_SIZE", 3)
    monkeypatch.setattr(_runner, "DELTA_BUFFER_LIMIT", BUFFER_LIMIT)


class _Cut(httpx.SyncByteStream):
    def __init__(self, body: bytes, at: int, events: list[object]) -> None:
        self._body = body
        self._at = at
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, self._at, 100):
            yield self._body[start : min(start + 100, self._at)]
        self._events.append("cut")
        raise httpx.RemoteProtocolError("injected: the connection closed mid-body")


class CuttingTransport(httpx.BaseTransport):
    """The real server, but the first ``cuts`` deltaLink responses (``-1``: all of
    them) break off at 80% of their body, well past the buffer. ``events`` gets
    "open" for each deltaLink response and "cut" when one breaks off."""

    def __init__(
        self, cuts: int, on_cut: threading.Event | None = None, events: list[object] | None = None
    ) -> None:
        self._inner = httpx.HTTPTransport()
        self._cuts = cuts
        self._on_cut = on_cut
        self.events = [] if events is None else events
        self.delta_requests: list[str] = []
        self.cut: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if "/delta/" not in request.url.path:
            return response
        body = response.read()
        response.close()
        link = request.url.raw_path.decode()
        self.delta_requests.append(link)
        self.events.append("open")
        if self._cuts != 0 and len(body) > 2 * BUFFER_LIMIT:
            self._cuts -= 1
            self.cut[link] += 1
            if self._on_cut is not None:
                self._on_cut.set()
            cut = _Cut(body, len(body) * 4 // 5, self.events)
            return httpx.Response(response.status_code, headers=response.headers, stream=cut)
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def close(self) -> None:
        self._inner.close()


def sync(source: Source, target: str, transport: httpx.BaseTransport, **options: Any) -> SyncResult:
    client_options = {
        "transport": transport,
        "retry": RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
    }
    mirror = Mirror(target)
    try:
        request = SyncRequest(ALL, dt.date.fromisoformat(SINCE))
        return run_sync(
            source.connection, mirror, request, client_options=client_options, **options
        )
    finally:
        mirror.close()


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The size of each batch the mirror writes (committed or not), in order."""
    found: list[object] = []
    apply_batch = Mirror._apply_batch

    def counted(self: Mirror, connection: Any, collection: Any, changes: Any, gen: int) -> Any:
        found.append(len(changes))
        return apply_batch(self, connection, collection, changes, gen)

    monkeypatch.setattr(Mirror, "_apply_batch", counted)
    return found


def test_a_delta_cut_after_some_batches_is_read_again_and_applied_once(
    source: Source, mirror_target: str, events: list[object]
) -> None:
    with source.client() as client:
        sync(source, mirror_target, CuttingTransport(cuts=0))
        random_writes(client, random.Random(7), 30)
        events.clear()
        transport = CuttingTransport(cuts=1, events=events)
        result = sync(source, mirror_target, transport)
        assert all(c.completed for c in result.collections)
        assert_mirror_equals_source(client, mirror_target, ALL)
    [(cut_link, cuts)] = transport.cut.items()
    assert cuts == 1 and transport.delta_requests.count(cut_link) == 2  # read again
    # Each reading: "open", then the sizes of the batches written. The one cut had
    # written batches (then rolled back); the next wrote them and the rest. The batches
    # are read one ahead (sync/_readahead.py), so the reader may meet the cut before
    # the mirror wrote the batches it had read: "cut" among the last sizes.
    readings = " ".join(map(str, events)).split("open")[1:]
    [cut_at] = [n for n, reading in enumerate(readings) if "cut" in reading]
    written_before_cut = [size for size in readings[cut_at].split() if size != "cut"]
    written_again = readings[cut_at + 1].split()
    assert 1 <= len(written_before_cut) < len(written_again)
    assert set(written_before_cut) == {"3"}
    # Counted once in the totals: the reading that was committed.
    changes = {c.collection: c.upserted + c.deleted + c.ignored for c in result.collections}
    assert sum(changes.values()) == sum(
        int(size) for n, reading in enumerate(readings) if n != cut_at for size in reading.split()
    )


def test_a_delta_that_keeps_breaking_gives_up_after_the_retries_and_keeps_the_link(
    source: Source, mirror_target: str
) -> None:
    with source.client() as client:
        sync(source, mirror_target, CuttingTransport(cuts=0))
        random_writes(client, random.Random(8), 30)
    mirror = Mirror(mirror_target)
    try:
        state = mirror.state("clockings")
    finally:
        mirror.close()
    rows = mirror_state(mirror_target, "clockings")
    transport = CuttingTransport(cuts=-1)
    with pytest.raises(TransportError, match="closed mid-body"):
        sync(source, mirror_target, transport)
    assert set(transport.cut.values()) == {3}  # max_attempts readings, then the error
    mirror = Mirror(mirror_target)
    try:
        assert mirror.state("clockings") == state
    finally:
        mirror.close()
    assert mirror_state(mirror_target, "clockings") == rows


def test_a_stop_during_the_wait_to_read_again_ends_the_pass_with_nothing_applied(
    source: Source, mirror_target: str
) -> None:
    with source.client() as client:
        sync(source, mirror_target, CuttingTransport(cuts=0))
        random_writes(client, random.Random(9), 30)
    rows = mirror_state(mirror_target, "clockings")
    stop = threading.Event()
    result = sync(source, mirror_target, CuttingTransport(cuts=-1, on_cut=stop), stop=stop)
    assert result.stopped and not any(c.completed for c in result.collections)
    assert mirror_state(mirror_target, "clockings") == rows
