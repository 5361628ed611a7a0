"""The delta response's batches read one ahead while the mirror applies (issue 14, item 3:
"prefetch delta responses as snapshot pages are", bounded): the same batches in order,
the link after the last, the stream's error where its batch would be, at most two
batches ahead, and the reading thread gone once iteration ends, however it ends.
(Over HTTP, with cuts, on SQLite and PostgreSQL: test_streamed_delta.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from chronodelta.client import TransportError
from chronodelta.sync._readahead import BatchesAhead

DEADLINE_SECONDS = 10.0


class FakeStream:
    """``count`` batches of one change each; ``fail_at`` raises instead of that batch."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.produced = 0
        self.reader: threading.Thread | None = None
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[Sequence[Any]]:
        self.reader = threading.current_thread()
        for n in range(self.count):
            if n == self.fail_at:
                raise TransportError("injected", method="GET", url="/d", maybe_applied=False)
            self.produced += 1
            yield (n,)
        self.delta_link = "/next"


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.001)  # polling a condition with a deadline, not a synchronization


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sync-delta-readahead"]


def test_the_batches_come_in_order_read_in_another_thread_then_the_link() -> None:
    stream = FakeStream(7)
    ahead = BatchesAhead(stream)
    assert ahead.delta_link is None
    assert list(ahead) == [(n,) for n in range(7)]
    assert ahead.delta_link == "/next"
    assert stream.reader is not None and stream.reader is not threading.current_thread()
    assert readers() == []


def test_the_reader_runs_ahead_by_at_most_two_batches() -> None:
    stream = FakeStream(10)
    for consumed, _ in enumerate(BatchesAhead(stream), start=1):
        # While this batch is applied, the next one waits and another is being read.
        wanted = min(consumed + 2, 10)
        wait_for(lambda: stream.produced >= wanted)  # noqa: B023  # called at once
        assert stream.produced <= consumed + 2
    assert readers() == []


def test_an_error_of_the_stream_comes_after_the_batches_before_it() -> None:
    stream = FakeStream(10, fail_at=4)
    received = []
    with pytest.raises(TransportError, match="injected"):
        for batch in BatchesAhead(stream):
            received.append(batch)
    assert received == [(n,) for n in range(4)]
    assert stream.delta_link is None and readers() == []


def test_an_applier_that_fails_leaves_no_reader_behind() -> None:
    stream = FakeStream(1000)
    with pytest.raises(RuntimeError, match="the mirror failed"):
        for batch in BatchesAhead(stream):
            if batch == (2,):
                raise RuntimeError("the mirror failed")
    # The reader stopped (the caller may close the response now), far from the end.
    assert readers() == [] and stream.produced <= 5
