"""Faults between the sync and the server: 5xx, 429 with Retry-After, connections
refused or dropped (before the request, after the server acted, mid-body), and slow
responses, injected by an httpx transport in front of the real one; the mirror still
converges, and every kind of fault was injected. Every delta response is streamed here
(small limits), so its faults hit the batched reading too (test_streamed_delta.py cuts
delta bodies after some batches were written, on purpose)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from chronodelta.client import RetryPolicy
from chronodelta.sync import Mirror, SyncRequest, _runner, run_sync

from .conftest import SINCE, Source
from .writes import assert_mirror_equals_source, random_writes

ALL = ("clockings", "paid-presences", "activity-durations")
FAULTS = ("500", "503", "429", "refused", "dropped", "cut", "slow")


class _CutStream(httpx.SyncByteStream):
    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        yield self._body[: len(self._body) // 2]
        raise httpx.RemoteProtocolError("injected: the connection closed mid-body")


class FaultyTransport(httpx.BaseTransport):
    """Passes requests to the real server, and spoils about ``rate`` of them (the
    spoiled ones take each kind of fault in turn)."""

    def __init__(self, seed: int, rate: float = 0.4) -> None:
        self._inner = httpx.HTTPTransport()
        self._rng = random.Random(seed)
        self._kinds = itertools.cycle(FAULTS)
        self._rate = rate
        self._lock = threading.Lock()  # the sync fetches pages in a thread
        self.injected: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            fault = next(self._kinds) if self._rng.random() < self._rate else None
            if fault:
                self.injected[fault] += 1
        error = {"error": {"code": "Injected", "message": "injected by the test"}}
        if fault in ("500", "503"):
            return httpx.Response(int(fault), json=error)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "0"}, json=error)
        if fault == "refused":
            raise httpx.ConnectError("injected: connection refused")
        response = self._inner.handle_request(request)
        body = response.read()
        response.close()
        if fault == "dropped":  # the server acted; its answer is lost
            raise httpx.ReadError("injected: connection reset after the request")
        if fault == "cut":
            return httpx.Response(
                response.status_code, headers=response.headers, stream=_CutStream(body)
            )
        if fault == "slow":
            time.sleep(0.05)  # a slow network, not a synchronization
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def close(self) -> None:
        self._inner.close()


def test_the_mirror_converges_through_injected_faults(
    source: Source,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_runner, "DELTA_BATCH_SIZE", 4)
    monkeypatch.setattr(_runner, "DELTA_BUFFER_LIMIT", 256)
    target = f"sqlite:///{tmp_path}/faults.db"
    transport = FaultyTransport(seed=3)
    options = {
        "transport": transport,
        "retry": RetryPolicy(max_attempts=15, base_delay=0.005, max_delay=0.02),
    }
    request = SyncRequest(ALL, dt.date.fromisoformat(SINCE))
    rng = random.Random(11)
    with source.client() as client:
        for _ in range(3):
            mirror = Mirror(target)
            try:
                result = run_sync(source.connection, mirror, request, client_options=options)
            finally:
                mirror.close()
            assert all(c.completed for c in result.collections)
            assert_mirror_equals_source(client, target, ALL)
            random_writes(client, rng, 25)
    assert set(transport.injected) == set(FAULTS), transport.injected
