"""The sync loop: fetch each response with the SDK, commit it with the link after it.

``sync_collection`` brings one collection's mirror up to date: it starts a delta (or
resumes the stored snapshot ``nextLink``), walks the snapshot into the mirror one
committed page at a time, then follows the stored ``deltaLink`` once, reading its
response in batches into one transaction (``apply_delta``: memory stays bounded
however many changes it holds). A 410 starts over with a new generation (the
mirror's mark-and-sweep removes what vanished). ``run_sync`` does that for every
collection, once or every ``interval`` seconds, and at once on a webhook's delivery
(``_webhooks.py``).

While the mirror commits a page, a thread already fetches the next one (the pages
are still applied strictly in order, each with its own link), so the server's time
and the mirror's overlap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chronodelta.client import (
    Client,
    Collection,
    ContinuationTokenConflict,
    DeltaExpired,
    InvalidResponse,
    RetriableError,
    RetryPolicy,
    TransportError,
    date_filter,
)
from chronodelta.domain import SUPPORTED_REFERENCE_COLLECTIONS

from ._apply import ChangeCounts
from ._config import SyncConnection
from ._exceptions import (
    InvalidRequest,
    MirrorRefused,
    RetriableSyncError,
    TooManyRestarts,
)
from ._mirror import Mirror
from ._progress import Reporter
from ._readahead import BatchesAhead
from ._state import SyncState, after_page, begin_generation, matches, new_state
from ._tables import COLLECTIONS, MirroredCollection
from ._webhooks import WebhookOptions, WebhookTriggers

log = logging.getLogger("chronodelta.sync")

T = TypeVar("T")

# Contract: a delta expires 72 h after its last request. Polling at most every 24 h
# leaves two more chances before it expires.
MAX_INTERVAL_SECONDS = 24 * 3600
DEFAULT_INTERVAL_SECONDS = 60.0
# A 410 right after a fresh start means something else is wrong: give up then.
MAX_RESTARTS_PER_RUN = 3
# A delta response is applied this many changes at a time, all in one transaction;
# one of at most DELTA_BUFFER_LIMIT bytes is decoded whole first (the SDK's fast path).
# Read when used, so that tests can make them small.
DELTA_BATCH_SIZE = 5000
DELTA_BUFFER_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class SyncRequest:
    """What to mirror: collections, the date range, clocking kinds, external references."""

    collections: tuple[str, ...]
    since: dt.date
    until: dt.date | None = None
    kinds: tuple[str, ...] = ()
    external_references: str = ""

    def __post_init__(self) -> None:
        unknown = [c for c in self.collections if c not in COLLECTIONS]
        if unknown or not self.collections:
            raise InvalidRequest(
                f"cannot mirror {', '.join(unknown) or 'nothing'}: choose from "
                + ", ".join(COLLECTIONS)
            )
        if len(set(self.collections)) != len(self.collections):
            raise InvalidRequest("a collection is named twice")
        if self.until is not None and self.until < self.since:
            raise InvalidRequest("--until is before --since")
        if self.kinds and "clockings" not in self.collections:
            raise InvalidRequest("--kind filters clockings only, and clockings are not synced")

    def filter_for(self, collection: MirroredCollection) -> str:
        # Sorted and once each: the same kinds in another order are the same filter,
        # and a different filter text would start a new delta.
        kinds = sorted(set(self.kinds)) if self.kinds and collection.filters_kind else None
        return date_filter(self.since, self.until, kind=kinds)

    def references_for(self, collection: MirroredCollection) -> str:
        """The external reference pairs this collection's endpoint supports (seeds 001-003)."""
        supported = SUPPORTED_REFERENCE_COLLECTIONS.get(collection.name, ())
        return "".join(
            f"({name},{ref})" for name, ref in _pairs(self.external_references) if name in supported
        )


_SHAPE = "(people,@badge-number)(terminals,@external-code)"


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    rest = text.strip()
    while rest:
        if not rest.startswith("(") or ")" not in rest:
            raise InvalidRequest(f"--external-references must look like {_SHAPE}: {text!r}")
        inner, rest = rest[1:].split(")", 1)
        name, sep, ref = inner.partition(",")
        if not sep or not name.strip() or not ref.strip():
            raise InvalidRequest(f"--external-references must look like {_SHAPE}: {text!r}")
        pairs.append((name.strip(), ref.strip()))
        rest = rest.strip()
    return pairs


def check_references(request: SyncRequest) -> None:
    """Every pair must be supported by at least one of the collections synced."""
    for name, ref in _pairs(request.external_references):
        if not any(name in SUPPORTED_REFERENCE_COLLECTIONS.get(c, ()) for c in request.collections):
            raise InvalidRequest(
                f"none of {', '.join(request.collections)} supports ({name},{ref})"
            )


def check_interval(seconds: float) -> float:
    if not 0 < seconds <= MAX_INTERVAL_SECONDS:
        raise InvalidRequest(
            f"--interval must be above 0 and at most {MAX_INTERVAL_SECONDS} s (24 h), well "
            "inside the 72-hour delta expiry"
        )
    return seconds


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CollectionResult:
    collection: str
    snapshot_records: int = 0
    swept: int = 0
    upserted: int = 0
    deleted: int = 0
    ignored: int = 0
    restarts: int = 0
    completed: bool = False


@dataclass
class SyncResult:
    collections: list[CollectionResult] = field(default_factory=list)
    stopped: bool = False


_DONE = object()
# How often a thread waiting on the prefetch queue looks at the stop and gone flags.
_POLL_SECONDS = 0.2


def prefetch(pages: Iterator[T], stop: threading.Event, depth: int = 2) -> Iterator[T]:
    """Iterate ``pages`` in a thread, ``depth`` items ahead; exceptions come through.

    Ends early, without waiting for a page in flight, once ``stop`` is set; the thread
    then stops fetching, and never blocks on a consumer that has gone.
    """
    box: queue.Queue[Any] = queue.Queue(maxsize=depth)
    gone = threading.Event()  # the consumer left

    def hand_over(item: Any) -> bool:
        while not gone.is_set():
            try:
                box.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in pages:
                if not hand_over(item) or stop.is_set():
                    return
            hand_over(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(exc)

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = box.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()


@contextmanager
def _links_refused() -> Iterator[None]:
    """The SDK's ValueError for a link it will not follow, as ``InvalidResponse``.

    The SDK sends its token to its own server only and refuses (ValueError) a link to
    another one. For the SDK's caller that is a bad argument; for the sync, whose links
    all come from the server's responses, it is a response outside the contract.
    """
    try:
        yield
    except ValueError as exc:
        # Not the SDK's message: it may quote the link, which carries the delta token.
        raise InvalidResponse(
            "the server sent a link to another server or outside the API, which the "
            "client does not follow"
        ) from exc


def _following(pages: Iterator[T]) -> Iterator[T]:
    """``pages``, with ``_links_refused``: the SDK checks each ``nextLink`` as it
    follows it."""
    with _links_refused():
        yield from pages


def sync_collection(
    client: Client,
    mirror: Mirror,
    collection: MirroredCollection,
    request: SyncRequest,
    source: str,
    *,
    reporter: Reporter,
    stop: threading.Event,
    client_id: str = "",
    now: Callable[[], dt.datetime] = utc_now,
) -> CollectionResult:
    """Bring one collection's mirror up to date (see the module docstring)."""
    result = CollectionResult(collection.name)
    api = getattr(client, collection.attribute).raw
    wanted_filter = request.filter_for(collection)
    wanted_refs = request.references_for(collection)
    state = mirror.state(collection.name)
    if state is None:
        first = new_state(collection.name, source, wanted_filter, wanted_refs, client_id)
        state = begin_generation(first)
        mirror.save(None, state)
    elif state.source != source and (state.link is not None or mirror.count(collection.name)):
        raise MirrorRefused(
            f"this mirror's {collection.name} come from {state.source}, not {source}: "
            "use another --target"
        )
    elif state.client_id != client_id or not matches(state, source, wanted_filter, wanted_refs):
        # Nothing stored yet from another source (a first run with a wrong URL), another
        # API client (a delta is its client's own), or another filter: start over.
        log.info("%s: the source, API client or filter changed; a new delta", collection.name)
        changed = begin_generation(
            dataclasses.replace(state, source=source, client_id=client_id),
            filter=wanted_filter,
            external_references=wanted_refs,
        )
        mirror.save(state, changed)
        state = changed
    while not stop.is_set():
        try:
            if state.phase == "snapshot":
                resumed = state.link is not None
                reporter.snapshot_started(collection.name, state.generation, resumed)
                with _links_refused():
                    pages = (
                        api.resume_delta(state.link)
                        if state.link is not None
                        else api.start_delta(
                            state.filter, external_references=state.external_references
                        )
                    )
                for page in prefetch(_following(pages), stop):
                    new = after_page(
                        state,
                        records=len(page.records),
                        next_link=page.next_link,
                        delta_link=page.delta_link,
                        now=now(),
                    )
                    swept = mirror.apply_page(collection, state, page.records, new)
                    state = new
                    result.snapshot_records += len(page.records)
                    reporter.page_committed(
                        collection.name, len(page.records), state.snapshot_records
                    )
                    if page.delta_link is not None:
                        result.swept += swept
                        reporter.snapshot_done(collection.name, state.snapshot_records, swept)
                        break
                    if stop.is_set():
                        return result
                continue
            reporter.changes_requested(collection.name)
            applied = apply_delta(
                api, mirror, collection, state, retry=client.retry, stop=stop, now=now
            )
            if applied is None:
                return result
            state, counts = applied
            result.upserted += counts.upserted
            result.deleted += counts.deleted
            result.ignored += counts.ignored
            reporter.changes_committed(collection.name, counts)
            result.completed = True
            return result
        # 410 (the delta is gone) or, on a snapshot page, 409 (its continuationToken
        # cannot be used: contract, "Fidelity", "Paging"): either way, start over.
        except (DeltaExpired, ContinuationTokenConflict) as expired:
            result.restarts += 1
            if result.restarts > MAX_RESTARTS_PER_RUN:
                raise TooManyRestarts(
                    f"{collection.name}: the delta was gone {result.restarts} times in one run"
                ) from expired
            reporter.reinitializing(collection.name, expired.message)
            restarted = begin_generation(state)
            mirror.save(state, restarted)
            state = restarted
    return result


def apply_delta(
    api: Collection[Any],
    mirror: Mirror,
    collection: MirroredCollection,
    state: SyncState,
    *,
    retry: RetryPolicy,
    stop: threading.Event,
    now: Callable[[], dt.datetime],
) -> tuple[SyncState, ChangeCounts] | None:
    """Apply the response of the stored deltaLink, batch by batch in one transaction
    (``Mirror.apply_change_batches``); None if stopped while waiting to read it again.

    The SDK retries the request, and a body that breaks off within its buffer. Past
    that, batches are in the open transaction and the SDK cannot: the transaction
    rolls back and the same link is read again here, with the client's backoff and at
    most ``retry.max_attempts`` reads in all; then the ``TransportError`` goes up.
    """
    assert state.link is not None
    attempt = 1
    while True:
        with _links_refused():
            opened = api.stream_delta(
                state.link, batch_size=DELTA_BATCH_SIZE, buffer_limit=DELTA_BUFFER_LIMIT
            )
        with opened as stream:
            received = now()
            try:
                # Read one batch ahead while the mirror applies (as snapshot pages are).
                batches = BatchesAhead(stream)
                return mirror.apply_change_batches(collection, state, batches, received)
            except TransportError as cut:
                if attempt >= retry.max_attempts:
                    raise
                delay = retry.backoff(attempt, random.random())
                log.warning(
                    "%s: the delta response broke off (%s); nothing of it was kept, reading "
                    "it again in %.2f s (attempt %d of %d)",
                    collection.name,
                    cut.message,  # not the link: it carries the delta token
                    delay,
                    attempt + 1,
                    retry.max_attempts,
                )
        attempt += 1
        if stop.wait(delay):
            return None


def connect(connection: SyncConnection, **options: Any) -> Client:
    """An SDK client for the sync (more patient retries than the default)."""
    options.setdefault("retry", RetryPolicy(max_attempts=8, max_delay=30.0))
    return Client(
        connection.base_url,
        connection.tenant,
        connection.client_id,
        connection.client_secret,
        user_agent=connection.user_agent,
        token_url=connection.token_url,
        **options,
    )


def run_sync(
    connection: SyncConnection,
    mirror: Mirror,
    request: SyncRequest,
    *,
    reporter: Reporter | None = None,
    follow: bool = False,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    stop: threading.Event | None = None,
    client_options: dict[str, Any] | None = None,
    webhooks: WebhookOptions | None = None,
) -> SyncResult:
    """Mirror ``request``'s collections: once, or (``follow``) every ``interval`` s.

    Returns after one pass, or when ``stop`` is set (between responses: the last
    committed one stays). While following, a server that stays unreachable after the
    client's retries is logged and tried again at the next poll. With ``webhooks``
    (``follow`` only), a verified delivery reads its collection's delta at once
    (``_webhooks.py``); the poll every ``interval`` goes on.
    """
    check_references(request)
    if follow:
        check_interval(interval)
    elif webhooks is not None:
        raise InvalidRequest("--webhook-listen and --webhook-url need --follow")
    stop = stop or threading.Event()
    reporter = reporter or Reporter()
    outcome = SyncResult()
    with (
        connect(connection, **(client_options or {})) as client,
        _triggers(client, webhooks, request) as triggers,
    ):
        due = request.collections
        while due:
            outcome.collections = []
            for name in due:
                if stop.is_set():
                    break
                try:
                    done = sync_collection(
                        client,
                        mirror,
                        COLLECTIONS[name],
                        request,
                        connection.source,
                        reporter=reporter,
                        stop=stop,
                        client_id=connection.client_id,
                    )
                except (RetriableError, RetriableSyncError) as exc:
                    if not follow:
                        raise
                    log.warning("%s: %s; trying again at the next poll", name, exc)
                    continue
                outcome.collections.append(done)
            if not follow or stop.is_set():
                break
            due = _next_due(triggers, mirror, reporter, request, stop, interval)
    outcome.stopped = stop.is_set()
    return outcome


@contextmanager
def _triggers(
    client: Client, webhooks: WebhookOptions | None, request: SyncRequest
) -> Iterator[WebhookTriggers | None]:
    if webhooks is None:
        yield None
        return
    with WebhookTriggers(client, webhooks, request.collections) as triggers:
        yield triggers


def _next_due(
    triggers: WebhookTriggers | None,
    mirror: Mirror,
    reporter: Reporter,
    request: SyncRequest,
    stop: threading.Event,
    interval: float,
) -> tuple[str, ...]:
    """The collections to bring up to date next, once it is time; () when stopped."""
    if triggers is None:
        return () if stop.wait(interval) else request.collections
    wakeup = triggers.wait(stop, interval)
    for name in sorted(wakeup.disabled):
        # The vendor's recovery for a disabled webhook: a full re-sync (a new delta and
        # snapshot generation; the sweep removes what vanished) with a new webhook.
        reporter.reinitializing(name, "its webhook was disabled")
        state = mirror.state(name)
        if state is not None:
            mirror.save(state, begin_generation(state))
    if wakeup.poll:
        return request.collections
    wanted = wakeup.triggered | wakeup.disabled
    return tuple(name for name in request.collections if name in wanted)


def sync_once(
    connection: SyncConnection, target: str, request: SyncRequest, **options: Any
) -> SyncResult:
    """Open the mirror at ``target``, bring it up to date, close it."""
    mirror = Mirror(target)
    try:
        return run_sync(connection, mirror, request, **options)
    finally:
        mirror.close()
