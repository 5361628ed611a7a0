"""Delivery inside ``chronodelta serve``: one deliverer per worker process (issue 12, item 4).

It runs on a thread of its own with its own event loop, so that neither a slow receiver
nor the deliverer's database work ever waits in the API's event loop. It claims due
webhooks (``_store.claim_due``: leases, ``SKIP LOCKED`` on PostgreSQL), at most
``CHRONODELTA_WEBHOOK_CONCURRENCY`` at once, and delivers each one's events in order,
one POST per event, signed per Standard Webhooks with the ``standardwebhooks`` library.
A POST may take ``CHRONODELTA_WEBHOOK_TIMEOUT_SECONDS`` in all; at most
``MAX_RESPONSE_BYTES`` of the answer are read; redirects are not followed (a 3xx is a
failure). A commit that adds events wakes the deliverer of its process at once; the
others find them on their next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid

import httpx
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

import chronodelta
from chronodelta.server._settings import Settings
from chronodelta.server.webhooks._destinations import DestinationRefused, delivery_target
from chronodelta.server.webhooks._outbox import on_new_events, stop_waking
from chronodelta.server.webhooks._state import RetryPolicy
from chronodelta.server.webhooks._store import (
    Attempt,
    Claimed,
    Event,
    claim_due,
    next_event,
    record_attempt,
    release,
)
from chronodelta.storage import DatabaseUnavailable

log = logging.getLogger("chronodelta.webhooks")
MAX_RESPONSE_BYTES = 4096
POLL_SECONDS = 1.0
USER_AGENT = f"chronodelta-webhooks/{chronodelta.__version__}"


class Deliverer:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self.policy = RetryPolicy(settings.webhook_retries, settings.webhook_backoff_seconds)
        self.timeout = settings.webhook_timeout_seconds
        self.concurrency = settings.webhook_concurrency
        self.allow_private = settings.webhook_allow_private
        # Longer than an attempt may take, so a live holder never loses it mid-POST.
        self.lease = dt.timedelta(seconds=2 * self.timeout + 5)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._main, name="webhook-deliverer", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        on_new_events(self.wake)
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        stop_waking(self.wake)
        self._stopping = True
        self.wake()
        self._thread.join(timeout=self.timeout + 5)

    def wake(self) -> None:
        """Thread-safe: look for due events now."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(wakeup.set)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop, self._wakeup = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        running: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=8)
        async with httpx.AsyncClient(
            follow_redirects=False, trust_env=False, limits=limits, timeout=self.timeout
        ) as http:
            while not self._stopping:
                self._wakeup.clear()
                for claimed in await self._claim(self.concurrency - len(running)):
                    task = asyncio.create_task(self._deliver(http, claimed))
                    running.add(task)
                    task.add_done_callback(self._finished(running))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _finished(self, running: set[asyncio.Task[None]]):  # type: ignore[no-untyped-def]
        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("webhook delivery failed", exc_info=task.exception())
            assert self._wakeup is not None
            self._wakeup.set()  # a slot came free, and the webhook may have new events

        return done

    async def _claim(self, free: int) -> list[Claimed]:
        if free <= 0:
            return []
        try:
            return await asyncio.to_thread(claim_due, self.engine, self.owner, free, self.lease)
        except DatabaseUnavailable as exc:
            log.warning("webhook claim: the database is unavailable (%s); retrying", exc)
            return []

    async def _deliver(self, http: httpx.AsyncClient, claimed: Claimed) -> None:
        """The claimed webhook's pending events, oldest first, until one fails."""
        try:
            while not self._stopping:
                event = await asyncio.to_thread(next_event, self.engine, claimed.id, self.owner)
                if event is None:
                    break
                attempt = await self.attempt(http, claimed, event)
                state = await asyncio.to_thread(
                    record_attempt,
                    self.engine,
                    claimed,
                    self.owner,
                    event,
                    attempt,
                    policy=self.policy,
                    jitter=random.random(),
                    lease=self.lease,
                )
                if state is None or not attempt.ok:
                    return  # lost the lease, or the event waits for its retry
            await asyncio.to_thread(release, self.engine, claimed.id, self.owner)
        except DatabaseUnavailable as exc:
            # The lease runs out and the event is tried again: at least once.
            log.warning("webhook %s: the database is unavailable (%s)", claimed.id, exc)

    async def attempt(self, http: httpx.AsyncClient, claimed: Claimed, event: Event) -> Attempt:
        """POST one event; never raises for anything the receiver or network does."""
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                status = await self._post(http, claimed, event)
            if not 200 <= status < 300:
                redirect = " (redirects are not followed)" if 300 <= status < 400 else ""
                error = f"the receiver answered {status}{redirect}"
        except DestinationRefused as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no complete answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency = int((time.monotonic() - started) * 1000)
        return Attempt(status, latency, error)

    async def _post(self, http: httpx.AsyncClient, claimed: Claimed, event: Event) -> int:
        target = await delivery_target(claimed.destination_url, allow_private=self.allow_private)
        headers = signed_headers(claimed.signing_key, event.event_id, event.payload)
        if target.host_header is not None:
            headers["Host"] = target.host_header
        extensions = {} if target.sni_hostname is None else {"sni_hostname": target.sni_hostname}
        request = http.build_request(
            "POST",
            target.url,
            content=event.payload.encode(),
            headers=headers,
            extensions=extensions,
        )
        response = await http.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break  # the status is all that counts; a huge body is not read
        finally:
            await response.aclose()
        return response.status_code


def signed_headers(signing_key: str, event_id: str, payload: str) -> dict[str, str]:
    """Standard Webhooks headers: a retry keeps ``webhook-id``, with a new timestamp."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signature = Webhook(signing_key).sign(event_id, now, payload)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
