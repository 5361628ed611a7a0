"""What bounds the token endpoint: counters in fixed windows, and argon2 work per worker.

Issue 10, items 2, 3 and 8 (docs/security.md). Two counters share
``token_request_windows``, told apart by a key prefix:

* ``fail:<address>``: failed token requests from one source address. Past
  ``CHRONODELTA_TOKEN_FAILURES_PER_MINUTE`` in a window, a failing request from there
  gets 429 instead of 401, and an unknown client id is refused without verifying.
* ``issue:<tenant>/<client id>``: tokens issued to one client, counted only once its
  secret was verified, so that nobody without the secret can use up a client's budget.

They are counted in the database so that every worker process agrees, in one-minute
windows; ``delta._retention`` deletes the windows before the current one. The argon2
verifications themselves are bounded per worker by :class:`SecretVerifier`.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from chronodelta.server._errors import TooManyRequests
from chronodelta.server.auth._clients import StoredClient, secret_matches
from chronodelta.storage import is_postgresql, plain_write_transaction
from chronodelta.storage.tables import token_request_windows

WINDOW_SECONDS = 60
KEY_LENGTH = 200  # token_request_windows.client_key


def window_start(now: float) -> int:
    """The start of the fixed window ``now`` (seconds since the epoch) falls in."""
    return int(now // WINDOW_SECONDS) * WINDOW_SECONDS


def failure_key(address: str) -> str:
    return f"fail:{address}"[:KEY_LENGTH]


def issue_key(tenant: str, client_id: str) -> str:
    return f"issue:{tenant}/{client_id}"[:KEY_LENGTH]


def too_many(window: int, message: str) -> TooManyRequests:
    """429 with ``Retry-After`` the seconds until ``window`` ends."""
    return TooManyRequests(int(window + WINDOW_SECONDS - time.time()) + 1, message)


def window_count(connection: sa.Connection, key: str, window: int) -> int:
    """How often ``key`` was counted in ``window`` so far."""
    table = token_request_windows
    found = connection.scalar(
        sa.select(table.c.request_count).where(
            table.c.client_key == key, table.c.window_start == window
        )
    )
    return int(found or 0)


def bump_window(engine: Engine, key: str, window: int) -> int:
    """Count one for ``key`` in ``window``; the count so far, this one included."""
    table = token_request_windows
    insert = pg_insert(table) if is_postgresql(engine) else sqlite_insert(table)
    statement = (
        insert.values(client_key=key, window_start=window, request_count=1)
        .on_conflict_do_update(
            index_elements=[table.c.client_key, table.c.window_start],
            set_={"request_count": table.c.request_count + 1},
        )
        .returning(table.c.request_count)
    )
    with plain_write_transaction(engine) as connection:
        count = int(connection.execute(statement).scalar_one())
        if count == 1:  # first of a new window: forget this key's old ones
            connection.execute(
                table.delete().where(table.c.client_key == key, table.c.window_start < window)
            )
    return count


def forget_windows_before(connection: sa.Connection, window: int) -> int:
    """Delete every counter of a window before ``window`` (issue 10, item 8)."""
    table = token_request_windows
    return connection.execute(table.delete().where(table.c.window_start < window)).rowcount


class SecretVerifier:
    """Argon2id verifications, at most ``slots`` at a time in this worker (issue 10, item 2).

    Each verification takes 19 MiB and about 16 ms of a core. Unbounded, 40 concurrent
    token requests took a worker from 110 MiB to 1.1 GiB and slowed every other request
    60-100 times. A request waits for a slot on the event loop (costing nothing) for at
    most ``wait_seconds``, then gets 429 with ``Retry-After: 1``. The verifications run
    on ``slots`` threads of their own: run on any of the server's pool threads, each
    thread's malloc arena would keep its 19 MiB, up to one per arena.
    """

    def __init__(self, slots: int, wait_seconds: float) -> None:
        if slots < 1:
            raise ValueError("CHRONODELTA_TOKEN_VERIFY_CONCURRENCY must be at least 1")
        if wait_seconds < 0:
            raise ValueError("CHRONODELTA_TOKEN_VERIFY_WAIT_MS must not be negative")
        self._slots = anyio.Semaphore(slots)
        self._wait = wait_seconds
        self._threads = ThreadPoolExecutor(slots, thread_name_prefix="chronodelta-argon2")

    async def verify(self, client: StoredClient | None, secret: str) -> bool:
        """Whether ``secret`` is the client's (an unknown client costs the same); 429
        when no slot is free within the wait."""
        await self._acquire()
        try:
            job = self._threads.submit(secret_matches, client, secret)
            return await asyncio.wrap_future(job)
        finally:
            self._slots.release()

    async def _acquire(self) -> None:
        try:
            self._slots.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(self._wait):
            await self._slots.acquire()
            return
        raise TooManyRequests(1, "The token endpoint is busy; retry after the given delay")
