"""The console's clocking writes: the API's own backend, and a line in the request log.

The writes go through ``ConnectorBackend``, as ``POST/PUT/DELETE /clockings`` do, so
the totals are recalculated in the same transaction and deltas and webhooks see the
change. Each write is also logged in the tenant's request log (when it is on) as the
API call it stands for, with client ``console:<operator>``, so an integrator reading
the log sees which changes an operator made by hand (docs/sandbox.md, "Console").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from chronodelta.server._clock import utc_now
from chronodelta.server._errors import ApiError
from chronodelta.server._models import ClockingBody
from chronodelta.server._services import Services
from chronodelta.server.records._serialize import Wire
from chronodelta.server.request_log._entry import LogEntry
from chronodelta.server.request_log._store import write_entries
from chronodelta.storage import DatabaseUnavailable

log = logging.getLogger("chronodelta.console")
CLOCKINGS_PATH = "/connector/protimeapi/api/v1/clockings"
Result = TypeVar("Result")


class ClockingWrites:
    """One operator's clocking writes in one tenant."""

    def __init__(self, found: Services, tenant: str, tenant_id: int, operator: str) -> None:
        self.found, self.tenant, self.tenant_id = found, tenant, tenant_id
        self.client = f"console:{operator}"[:64]

    def create(self, body: ClockingBody) -> Wire:
        return self._logged(
            "POST", CLOCKINGS_PATH, 201, body,
            lambda: self.found.backend.create_clocking(self.tenant_id, body),
        )  # fmt: skip

    def update(self, clocking_id: int, body: ClockingBody, version: str) -> Wire:
        # The version the page showed: a change made meanwhile is a 409, not overwritten.
        return self._logged(
            "PUT", f"{CLOCKINGS_PATH}/{clocking_id}", 200, body,
            lambda: self.found.backend.update_clocking(
                self.tenant_id, clocking_id, body, f'"{version}"'
            ),
        )  # fmt: skip

    def delete(self, clocking_id: int, version: str) -> None:
        self._logged(
            "DELETE", f"{CLOCKINGS_PATH}/{clocking_id}", 204, None,
            lambda: self.found.backend.delete_clocking(self.tenant_id, clocking_id, f'"{version}"'),
        )  # fmt: skip

    def _logged(
        self,
        method: str,
        path: str,
        status: int,
        body: ClockingBody | None,
        write: Callable[[], Result],
    ) -> Result:
        started = time.perf_counter()
        try:
            result = write()
        except ApiError as exc:
            self._log(method, path, exc.status_code, body, started, exc)
            raise
        self._log(method, path, status, body, started, None)
        return result

    def _log(
        self,
        method: str,
        path: str,
        status: int,
        body: ClockingBody | None,
        started: float,
        error: ApiError | None,
    ) -> None:
        settings = self.found.settings
        if not settings.request_log:
            return
        text = None if body is None else body.model_dump_json(exclude_none=True)
        limit = settings.request_log_body_bytes
        entry = LogEntry(
            tenant=self.tenant,
            logged_at=utc_now(),
            client_id=self.client,
            method=method,
            path=path,
            query="",
            status=status,
            duration_ms=(time.perf_counter() - started) * 1000,
            response_bytes=0,
            error_code=error.code if error else None,
            error_reasons=tuple(error.reasons) if error and error.reasons else None,
            request_body=None if text is None else text[:limit],
            request_body_truncated=text is not None and len(text) > limit,
        )
        try:
            write_entries(self.found.engine, [entry])
        except DatabaseUnavailable as exc:
            # The write itself is committed: a log row that could not be added must not
            # turn it into an error page (the API's own log drops rows the same way).
            log.warning("console write not logged in the request log: %s", exc)
