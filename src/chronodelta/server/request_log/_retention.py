"""The request log's retention, in the background of every worker (as delta retention,
``delta/_retention.RetentionThread``): at most ``max_rows`` per tenant, none older than
``max_age`` (CHRONODELTA_REQUEST_LOG_MAX_ROWS / _MAX_AGE_SECONDS, docs/sandbox.md).
Idempotent, so every worker may run it."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy.engine import Engine

from chronodelta.server.request_log._store import trim_request_log

log = logging.getLogger("chronodelta.retention")


class RequestLogRetention:
    def __init__(
        self, engine: Engine, *, max_rows: int, max_age: dt.timedelta, interval: float
    ) -> None:
        self._engine, self._max_rows, self._max_age = engine, max_rows, max_age
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="chronodelta-request-log-retention", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                report = trim_request_log(
                    self._engine,
                    max_rows=self._max_rows,
                    max_age=self._max_age,
                    now=dt.datetime.now(dt.UTC),
                )
                if report.by_count or report.by_age:
                    log.info("request log retention: %s", report)
            except Exception:  # a failed run is retried at the next interval
                log.exception("request log retention failed")
