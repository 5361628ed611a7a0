"""Webhooks as triggers for ``sync --follow`` (issue 12, item 7; docs/sync.md, "Webhooks").

With ``--webhook-listen HOST:PORT --webhook-url URL`` the sync registers one webhook per
mirrored collection (pointing at URL, which must reach HOST:PORT), runs a small HTTP
listener, verifies each delivery with ``verify_webhook`` and treats a verified one as a
trigger: the collection's delta is read at once. The event body itself is never
applied; the delta stays the source of truth (docs/webhooks.md: "a receiver that must
not miss anything still reads the delta"), so a lost, late or repeated delivery costs
nothing but time.

Around that (``WebhookTriggers.maintain``):

* **renewal**: a webhook lives until ``validUntil`` (contract, "Webhooks"); it is
  replaced (register a new one, then delete the old) ``RENEW_MARGIN`` before, or half
  its lifetime before when that is shorter;
* **disabled** (GET shows ``Disabled``: retries ran out, or ``validUntil`` passed while
  the sync was away): the vendor's recovery is a full re-sync and a new webhook. A new
  webhook is registered first and the runner then re-initializes the collection, so a
  change committed during the re-sync triggers too;
* **polling stays**: the poll every ``--interval`` seconds goes on whatever the
  webhooks do, so when deliveries stop (receiver unreachable, server not delivering)
  the mirror is still brought up to date at the normal pace.

The webhooks are not stored in the mirror: their keys would sit there in plain text,
and nothing is lost without them (a restart reads the delta anyway). A clean exit
deletes them; a run that was killed leaves them behind, and the next start deletes
every webhook of the mirrored collections that points at the same URL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from chronodelta.client import (
    Client,
    FatalError,
    NotFound,
    RetriableError,
    WebhookVerificationFailed,
    verify_webhook,
)

from ._exceptions import InvalidRequest

log = logging.getLogger("chronodelta.sync")

# Renew an hour before validUntil (the default lifetime is 30 days), or at half the
# lifetime when that is shorter (a sandbox configured with a short lifetime).
RENEW_MARGIN = dt.timedelta(hours=1)
# How often each webhook is read back to see whether it was disabled.
DEFAULT_CHECK_SECONDS = 60.0
# A delivery is one event (docs/webhooks.md); anything much larger is not from the server.
MAX_BODY_BYTES = 1024 * 1024
# How often a wait looks at the stop flag (as the prefetch thread does).
_SLICE_SECONDS = 0.2
# Replaced webhooks whose keys still verify (a delivery may be in flight at the swap).
_RETIRED_KEPT = 16


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class WebhookOptions:
    """Where the listener binds, the URL the server is to call, how often to check."""

    host: str
    port: int
    url: str
    check_seconds: float = DEFAULT_CHECK_SECONDS

    @classmethod
    def parse(cls, listen: str, url: str, **options: Any) -> WebhookOptions:
        """From ``--webhook-listen HOST:PORT`` (``[::1]:PORT`` for IPv6) and ``--webhook-url``."""
        host, sep, port = listen.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidRequest(
                f"--webhook-listen must be HOST:PORT, like 0.0.0.0:8800: {listen!r}"
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(
                f"--webhook-url must be an absolute http(s) URL the server can reach: {url!r}"
            )
        return cls(host, int(port), url, **options)


# ---- what the sync owns: a frozen value, changed by pure functions -------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """One registered webhook of one collection."""

    collection: str
    webhook_id: str
    signing_key: str = field(repr=False)
    registered_at: dt.datetime
    valid_until: dt.datetime

    @property
    def renew_at(self) -> dt.datetime:
        lifetime = self.valid_until - self.registered_at
        return self.valid_until - min(RENEW_MARGIN, lifetime / 2)


@dataclass(frozen=True, slots=True)
class TriggerState:
    """The live webhook of each collection, and replaced ones whose keys still verify."""

    live: tuple[Subscription, ...] = ()
    retired: tuple[Subscription, ...] = ()

    def of(self, collection: str) -> Subscription | None:
        return next((s for s in self.live if s.collection == collection), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(s.signing_key for s in (*self.live, *self.retired))


def registered(state: TriggerState, new: Subscription) -> TriggerState:
    """``new`` is its collection's webhook now; the one it replaces retires."""
    old = state.of(new.collection)
    live = (*(s for s in state.live if s.collection != new.collection), new)
    retired = state.retired if old is None else (old, *state.retired)[:_RETIRED_KEPT]
    return dataclasses.replace(state, live=live, retired=retired)


def due_for_renewal(state: TriggerState, now: dt.datetime) -> tuple[Subscription, ...]:
    return tuple(s for s in state.live if now >= s.renew_at)


def next_renewal(state: TriggerState) -> dt.datetime | None:
    return min((s.renew_at for s in state.live), default=None)


# ---- the listener --------------------------------------------------------------------


class DeliveryListener:
    """An HTTP server on its own threads: 204 for a verified delivery (noted as a
    trigger of its collections), 401 for one that does not verify with any key."""

    def __init__(
        self, host: str, port: int, keys: Callable[[], Iterable[str]], collections: Iterable[str]
    ) -> None:
        self.keys = keys
        self.collections = frozenset(collections)
        self.accepted = 0
        self.refused = 0
        self.arrived = threading.Event()  # set with every trigger, cleared by ``take``
        self._lock = threading.Lock()
        self._triggered: set[str] = set()
        try:
            server = _IPv6Server if ":" in host else ThreadingHTTPServer
            self._server = server((host, port), _handler(self))
        except OSError as exc:
            raise InvalidRequest(
                f"--webhook-listen: cannot listen on {host}:{port}: {exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sync-webhooks", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """The status to answer a delivery with; a verified one becomes a trigger."""
        for key in self.keys():
            try:
                events = verify_webhook(headers, body, key)
            except WebhookVerificationFailed:
                continue
            with self._lock:
                self.accepted += 1
                self._triggered.update(e.collection_name for e in events)
                self._triggered &= self.collections
                self.arrived.set()
            return 204
        with self._lock:
            self.refused += 1
        return 401

    def take(self) -> set[str]:
        """The collections triggered since the last take."""
        with self._lock:
            taken, self._triggered = self._triggered, set()
            self.arrived.clear()
        return taken


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler(listener: DeliveryListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a client that stalls mid-request does not hold a thread for long

        def do_POST(self) -> None:
            text = self.headers.get("content-length") or "0"
            if not text.isdigit():
                self._answer(400)
                return
            length = int(text)
            if length > MAX_BODY_BYTES:
                self._answer(413)
                return
            body = self.rfile.read(length)
            self._answer(listener.receive(dict(self.headers.items()), body))

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # the sync logs what matters
            pass

    return Handler


# ---- registration, renewal, recovery -------------------------------------------------


@dataclass(frozen=True)
class Wakeup:
    """Why a wait ended: deliveries (``triggered``), webhooks found disabled and
    replaced (``disabled``: re-initialize), the poll interval (``poll``), or a stop."""

    triggered: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()
    poll: bool = False


class WebhookTriggers:
    """The sync's webhooks and their listener, for one ``run_sync`` (a context manager)."""

    def __init__(
        self,
        client: Client,
        options: WebhookOptions,
        collections: Iterable[str],
        *,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.client, self.options, self.now = client, options, now
        self.collections = tuple(collections)
        self.state = TriggerState()
        self.listener = DeliveryListener(
            options.host, options.port, lambda: self.state.keys, self.collections
        )
        self._checked_at = now()
        self._quiet_until = self._checked_at

    def __enter__(self) -> WebhookTriggers:
        """Listen, and register a webhook per collection. A refusal (a missing scope, a
        URL the server will not call) is raised: the command is misconfigured. A server
        that cannot be reached is logged; the next check registers, the poll goes on."""
        self.listener.start()
        try:
            self._forget_leftovers()
            for name in self.collections:
                self._register(name)
        except RetriableError as exc:
            log.warning("webhooks: %s; registering at the next check", exc)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Delete the webhooks (best effort: what is left expires), stop listening."""
        for sub in self.state.live:
            self._delete(sub.webhook_id)
        self.state = TriggerState()
        self.listener.close()

    def wait(self, stop: threading.Event, interval: float) -> Wakeup:
        """Until a delivery, a webhook found disabled, ``interval`` seconds, or ``stop``."""
        deadline = time.monotonic() + interval
        while not stop.is_set():
            if self.listener.arrived.wait(_SLICE_SECONDS) and (taken := self.listener.take()):
                return Wakeup(triggered=frozenset(taken))
            if self._maintenance_due() and (disabled := self.maintain()):
                return Wakeup(disabled=frozenset(disabled))
            if time.monotonic() >= deadline:
                return Wakeup(poll=True)
        return Wakeup()

    def _maintenance_due(self) -> bool:
        now = self.now()
        if now < self._quiet_until:  # the last attempt failed: not before the next check
            return False
        renewal = next_renewal(self.state)
        checked = now - self._checked_at >= dt.timedelta(seconds=self.options.check_seconds)
        return checked or (renewal is not None and now >= renewal)

    def maintain(self) -> list[str]:
        """Renew what is due, replace what was disabled; the disabled collections.

        A server that cannot be reached is logged and tried again at the next check;
        the poll goes on meanwhile.
        """
        disabled: list[str] = []
        try:
            for sub in due_for_renewal(self.state, self.now()):
                self._register(sub.collection)
                self._delete(sub.webhook_id)
                log.info("%s: webhook renewed before its validUntil", sub.collection)
            if self.now() - self._checked_at >= dt.timedelta(seconds=self.options.check_seconds):
                self._checked_at = self.now()
                disabled = self._replace_disabled()
        except RetriableError as exc:
            log.warning("webhooks: %s; trying again at the next check", exc)
            self._quiet_until = self.now() + dt.timedelta(seconds=self.options.check_seconds)
        except FatalError as exc:  # e.g. the webhooks scope withdrawn: the poll goes on
            log.error("webhooks: %s; polling only, trying again at the next check", exc)
            self._quiet_until = self.now() + dt.timedelta(seconds=self.options.check_seconds)
        return disabled

    def _replace_disabled(self) -> list[str]:
        disabled = []
        for name in self.collections:
            sub = self.state.of(name)
            if sub is None:  # never registered (the server was away): try again
                self._register(name)
                continue
            try:
                found = self.client.webhooks.get(sub.webhook_id)
            except NotFound:  # deleted by someone else: no event was lost, just replace it
                self._register(name)
                continue
            if found.status != "Enabled":
                log.warning(
                    "%s: webhook disabled (%s); a new one, and a full re-sync",
                    name,
                    found.disabled_reason,
                )
                self._register(name)
                self._delete(sub.webhook_id)
                disabled.append(name)
        return disabled

    def _register(self, collection: str) -> None:
        registered_at = self.now()
        hook = self.client.webhooks.create(self.options.url, collection)
        assert hook.signing_key is not None  # create answers it (docs/webhooks.md)
        sub = Subscription(collection, hook.id, hook.signing_key, registered_at, hook.valid_until)
        self.state = registered(self.state, sub)
        log.info("%s: webhook %s registered, valid until %s", collection, hook.id, hook.valid_until)

    def _delete(self, webhook_id: str) -> None:
        try:
            self.client.webhooks.delete(webhook_id)
        except NotFound:
            pass
        except (RetriableError, FatalError) as exc:
            log.warning("webhook %s not deleted (%s); it expires by itself", webhook_id, exc)

    def _forget_leftovers(self) -> None:
        """The tenant's webhooks of these collections to this URL (the listener's own)
        are a killed run's: delete them."""
        for hook in self.client.webhooks.list():
            ours = hook.collection_name in self.collections
            if ours and hook.destination_url == self.options.url:
                log.info("%s: deleting webhook %s, an earlier run's", hook.collection_name, hook.id)
                self._delete(hook.id)
