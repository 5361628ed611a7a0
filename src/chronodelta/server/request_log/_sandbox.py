"""What a worker runs for the fault rules and the request log, built from Settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from chronodelta.server._settings import Settings
from chronodelta.server.faults._rules import FaultRules
from chronodelta.server.request_log._middleware import CallRecorder
from chronodelta.server.request_log._retention import RequestLogRetention
from chronodelta.server.request_log._writer import RequestLogWriter


@dataclass(frozen=True)
class RequestSandbox:
    faults: FaultRules | None
    writer: RequestLogWriter | None
    retention: RequestLogRetention | None
    body_bytes: int

    @classmethod
    def build(cls, engine: Engine, settings: Settings) -> RequestSandbox:
        logging = settings.request_log
        return cls(
            faults=FaultRules(engine) if settings.faults else None,
            writer=RequestLogWriter(
                engine,
                max_pending=settings.request_log_buffer_rows,
                flush_interval=settings.request_log_flush_ms / 1000,
            )
            if logging
            else None,
            retention=RequestLogRetention(
                engine,
                max_rows=settings.request_log_max_rows,
                max_age=dt.timedelta(seconds=settings.request_log_max_age_seconds),
                interval=settings.retention_interval_seconds,
            )
            if logging
            else None,
            body_bytes=settings.request_log_body_bytes,
        )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(
            CallRecorder, writer=self.writer, faults=self.faults, body_bytes=self.body_bytes
        )

    def start(self) -> None:
        for part in (self.writer, self.retention):
            if part is not None:
                part.start()

    def stop(self) -> None:
        for part in (self.retention, self.writer):
            if part is not None:
                part.stop()
