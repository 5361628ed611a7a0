"""Which API clients are revoked, as every worker sees it (issue 10, item 9).

An access token is verified from its signature alone (and cached), so revoking a
client must also reach the per-request check: each worker keeps the set of revoked
client ids and reads it again from the database when it is older than
``refresh_seconds`` (``CHRONODELTA_REVOCATION_REFRESH_SECONDS``, default 2). A revoked
client's tokens are therefore refused within that many seconds in every worker, the
verification cache included; one small query per interval per worker is the cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from threading import Lock

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.storage import read_transaction, tables


class RevokedClients:
    def __init__(
        self,
        engine: Engine,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = Lock()
        self._revoked: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def is_revoked(self, client_id: str) -> bool:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._refresh:
            self._read(now)
        return client_id in self._revoked

    def _read(self, now: float) -> None:
        with self._lock:
            if self._read_at is not None and now - self._read_at < self._refresh:
                return  # another thread read it meanwhile
            clients = tables.api_clients
            query = sa.select(clients.c.client_id).where(clients.c.revoked_at.is_not(None))
            with read_transaction(self._engine) as connection:
                self._revoked = frozenset(connection.scalars(query))
            self._read_at = now
