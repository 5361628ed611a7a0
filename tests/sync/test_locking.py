"""The mirror behind another process's write lock: a write that waits past the busy
timeout is ``MirrorUnavailable`` (retriable, nothing kept), a following sync tries
again at the next poll, and reads (``sync status``, opening a current mirror) go on."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronodelta import storage
from chronodelta.cli import app
from chronodelta.sync import (
    COLLECTIONS,
    Mirror,
    MirrorUnavailable,
    Reporter,
    RetriableSyncError,
    SyncRequest,
    after_page,
    begin_generation,
    new_state,
    run_sync,
)
from chronodelta.sync._apply import ChangeCounts

from .conftest import SINCE, Source

NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)
BUSY = 0.2  # the mirror's busy timeout in these tests, seconds


@contextmanager
def write_lock_held(target: str) -> Iterator[None]:
    """Another process writing to the mirror: SQLite's write lock, or on PostgreSQL an
    EXCLUSIVE lock on the state table (every sync write changes it; reads go on)."""
    engine = storage.create_engine(target, busy_timeout=5)
    try:
        with storage.plain_write_transaction(engine) as connection:
            if storage.is_postgresql(engine):
                connection.exec_driver_sql("LOCK TABLE chronodelta_sync_state IN EXCLUSIVE MODE")
            yield
    finally:
        engine.dispose()


def test_a_write_locked_past_the_busy_timeout_is_retriable_and_keeps_nothing(
    mirror_target: str,
) -> None:
    mirror = Mirror(mirror_target, busy_timeout=BUSY)
    state = begin_generation(new_state("clockings", "src#acme", "date ge '2026-01-01'", ""))
    record = {
        "id": 1,
        "changeVersion": f"{5:020X}",
        "person": {"id": 3},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 480,
        "kind": "InOut",
    }
    try:
        mirror.save(None, state)
        page = after_page(state, records=1, next_link="/n1", delta_link=None, now=NOW)
        with write_lock_held(mirror_target):
            started = time.monotonic()
            with pytest.raises(MirrorUnavailable, match=r"locked for more than 0\.2 s") as raised:
                mirror.apply_page(COLLECTIONS["clockings"], state, [record], page)
            waited = time.monotonic() - started
        assert isinstance(raised.value, RetriableSyncError)
        assert BUSY * 0.9 <= waited < 10  # it waited for the lock, then gave up
        assert mirror.rows("clockings") == {} and mirror.state("clockings") == state
        # Released: the same step goes through.
        mirror.apply_page(COLLECTIONS["clockings"], state, [record], page)
        assert set(mirror.rows("clockings")) == {1} and mirror.state("clockings") == page
    finally:
        mirror.close()


def test_opening_a_new_mirror_behind_a_writer_is_retriable(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'new.db'}"
    with write_lock_held(target), pytest.raises(MirrorUnavailable, match="cannot open"):
        Mirror(target, busy_timeout=BUSY)
    Mirror(target, busy_timeout=BUSY).close()  # released: it is made


def test_status_and_reads_go_on_while_another_process_writes(mirror_target: str) -> None:
    mirror = Mirror(mirror_target)
    try:
        mirror.save(None, begin_generation(new_state("clockings", "src#acme", "f", "")))
    finally:
        mirror.close()
    with write_lock_held(mirror_target):
        started = time.monotonic()
        reader = Mirror(mirror_target, busy_timeout=BUSY)  # current: opened without a write
        try:
            [line] = reader.status(now=NOW)
        finally:
            reader.close()
        status = CliRunner().invoke(app, ["sync", "status", "--target", mirror_target])
        elapsed = time.monotonic() - started
    assert line.collection == "clockings" and line.phase == "snapshot"
    assert status.exit_code == 0 and "clockings" in status.output, status.output
    assert elapsed < 30  # not a lock wait of the default 60 s


class _StopWhenUpToDate(Reporter):
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def changes_committed(self, collection: str, counts: ChangeCounts) -> None:
        self._stop.set()


class _ReleaseOnRetry(logging.Handler):
    """Once the sync logged that it will try again at the next poll, has the writer
    release its lock, and waits until it has (the poll is then sure to find it free)."""

    def __init__(self, release: threading.Event, freed: threading.Event) -> None:
        super().__init__()
        self._release = release
        self._freed = freed
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "trying again at the next poll" in message:
            self.messages.append(message)
            self._release.set()
            self._freed.wait(10)


def test_a_following_sync_tries_a_locked_mirror_again_at_the_next_poll(
    source: Source, mirror_target: str
) -> None:
    held, release, freed = threading.Event(), threading.Event(), threading.Event()

    def writer() -> None:
        with write_lock_held(mirror_target):
            held.set()
            release.wait(30)
        freed.set()

    mirror = Mirror(mirror_target, busy_timeout=BUSY)
    handler = _ReleaseOnRetry(release, freed)
    logger = logging.getLogger("chronodelta.sync")
    logger.addHandler(handler)
    holder = threading.Thread(target=writer, daemon=True)
    holder.start()
    stop = threading.Event()
    try:
        assert held.wait(10)
        result = run_sync(
            source.connection,
            mirror,
            SyncRequest(("clockings",), dt.date.fromisoformat(SINCE)),
            reporter=_StopWhenUpToDate(stop),
            follow=True,
            interval=0.2,
            stop=stop,
        )
        rows = mirror.count("clockings")
    finally:
        release.set()
        holder.join(10)
        logger.removeHandler(handler)
        mirror.close()
    [message] = handler.messages  # failed once, behind the lock; then went through
    assert "clockings" in message and "locked for more than" in message
    assert result.stopped and rows > 0
