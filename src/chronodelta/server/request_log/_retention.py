"""The request log's retention, in the background of every worker (as delta retention,
``delta/_retention.RetentionThread``): at most ``max_rows`` per tenant, none older than
``max_age`` (CHRONODELTA_REQUEST_LOG_MAX_ROWS / _MAX_AGE_SECONDS, docs/sandbox.md).
Idempotent, so every worker may run it."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.engine import Engine

from chronodelta.server._periodic import PeriodicJob
from chronodelta.server.request_log._store import trim_request_log

log = logging.getLogger("chronodelta.retention")


class RequestLogRetention(PeriodicJob):
    thread_name = "chronodelta-request-log-retention"

    def __init__(
        self, engine: Engine, *, max_rows: int, max_age: dt.timedelta, interval: float
    ) -> None:
        super().__init__(interval)
        self._engine, self._max_rows, self._max_age = engine, max_rows, max_age

    def run_once(self) -> None:
        report = trim_request_log(
            self._engine,
            max_rows=self._max_rows,
            max_age=self._max_age,
            now=dt.datetime.now(dt.UTC),
        )
        if report.by_count or report.by_age:
            log.info("request log retention: %s", report)
