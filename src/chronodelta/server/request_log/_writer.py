"""Each worker's buffer of log rows, written by a background thread in batches.

A row per request written in the request's own path would put every API call in
SQLite's one write queue (and add a commit to each). Instead ``add`` appends to an
in-memory buffer (no I/O; the event loop calls it) and a thread writes what has
gathered every ``flush_interval`` seconds, or at once when ``batch_rows`` are waiting,
in one transaction. ``stop`` writes the rest (the app's shutdown).

Memory is bounded: with ``max_pending`` rows waiting (the database slow or away), new
rows are dropped and counted (``dropped``, and the metric
``chronodelta_request_log_dropped_total``); a batch that fails to be written is put
back as far as there is room, and the rest counted as dropped. docs/sandbox.md.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from prometheus_client import Counter
from sqlalchemy.engine import Engine

from chronodelta.server.request_log._entry import LogEntry
from chronodelta.server.request_log._store import write_entries

log = logging.getLogger("chronodelta.request_log")
DROPPED = Counter(
    "chronodelta_request_log_dropped_total",
    "Request log rows dropped because too many were waiting to be written",
)
STOP_TIMEOUT_SECONDS = 30.0


class RequestLogWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        max_pending: int,
        flush_interval: float,
        batch_rows: int = 500,
    ) -> None:
        self._engine = engine
        self._max_pending = max_pending
        self._interval = flush_interval
        self._batch_rows = batch_rows
        self._pending: deque[LogEntry] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def add(self, entry: LogEntry) -> None:
        """Queue ``entry`` for the next batch (or drop it, counted, if the buffer is full)."""
        with self._lock:
            if len(self._pending) >= self._max_pending:
                self._count_dropped(1)
                return
            self._pending.append(entry)
            full = len(self._pending) >= self._batch_rows
        if full:
            self._wake.set()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="chronodelta-request-log", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Write everything still waiting, then end the thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
            self._thread = None
        self.flush()  # whatever came in after the thread's last batch

    def flush(self) -> int:
        """Write what is waiting now, batch by batch; how many rows were written."""
        written = 0
        while True:
            with self._lock:
                batch = [self._pending.popleft() for _ in range(min(len(self._pending), 5000))]
            if not batch:
                return written
            try:
                write_entries(self._engine, batch)
            except Exception:  # the database is busy or away: keep what fits, retry later
                log.warning(
                    "request log: a batch of %d rows was not written", len(batch), exc_info=True
                )
                self._put_back(batch)
                return written
            written += len(batch)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def _put_back(self, batch: list[LogEntry]) -> None:
        with self._lock:
            room = max(0, self._max_pending - len(self._pending))
            kept = batch[-room:] if room else []
            self._pending.extendleft(reversed(kept))
            self._count_dropped(len(batch) - len(kept))

    def _count_dropped(self, rows: int) -> None:
        if rows:
            self.dropped += rows
            DROPPED.inc(rows)
