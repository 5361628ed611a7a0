"""Read-ahead of a list's next page, served only while the tenant has not changed.

Issue 14, item 2: a client walking a list parses page n while the server waits idle,
then the server builds page n+1 while the client waits. So once a page with a
``nextLink`` is sent, its worker builds the next page in the background; when the
client asks for it, the finished body goes out as it is.

A page read ahead must be exactly what reading it at request time would give. Its
body depends on the collection's rows, on the reference data its filter and
``externalReferences`` read, on the tenant's restore count (in the next token) and on
the organisation (``person in org-group(...)``). Every committed write of those raises
one of the tenant's counters: a versioned write the change version
(``storage/_transactions.py``), a reset or restore ``restores``
(``snapshots/_epoch.py``), an org tree or circle change ``organisation``
(``admin/_organisation.py``). ``TenantStamp`` is the three, read *before* the page;
the page is served only if the request's own stamp, read when it arrives, is equal:
then nothing was committed from before the page was read until the request, and the
page is the one a read now would give. Otherwise it is dropped and read again.

A request's stamp comes with the one read every request makes of its tenant
(``server/_tenant_now.py``), so a list page costs no statement for it. Per worker,
with keep-alive a walk stays on one worker; a page asked of another worker is read
there as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import Counter
from sqlalchemy.engine import Engine

from chronodelta.server._tenant_now import TenantStamp, tenant_stamp

READ_AHEAD = Counter(
    "chronodelta_page_read_ahead_total",
    "List pages asked for that had been read ahead: hit (served), stale (the tenant "
    "changed since: read again), miss (none was ready)",
    ["outcome"],
)
# After stale pages, at most this many of a tenant's next pages are not read ahead.
MAX_SKIPS = 4
_LABELS = {"hits": "hit", "stale": "stale", "misses": "miss"}  # ReadAheadCounts' fields


# The stamp of a page read for its own request only (a delta's first snapshot page):
# never equal to a tenant's, so never served to another.
UNSTAMPED = TenantStamp(-1, -1, -1)


@dataclass(frozen=True, slots=True)
class PageKey:
    """Everything a list page's body is a function of, besides the tenant's state."""

    tenant_id: int
    collection: str
    canonical_filter: str
    after: tuple[Any, ...] | None
    limit: int
    external_references: str | None
    delta_id: int | None = None  # a delta's snapshot page: its records, up to its version


@dataclass(frozen=True, slots=True)
class ReadAheadCounts:
    """What became of the pages asked for in one worker (the metric, per worker)."""

    hits: int = 0
    stale: int = 0
    misses: int = 0


@dataclass(frozen=True, slots=True)
class PageBody:
    """A page's response body, the stamp read before it, and the next page's key."""

    stamp: TenantStamp
    body: bytes
    next_key: tuple[Any, ...] | None


def read_ahead_capacity(page_size: int) -> int:
    """How many pages a worker holds read ahead: 16 walks at a time, but about 16,000
    records at most (some 4 MB of JSON), so that a page size of 100,000 holds one."""
    return max(1, min(16, 16_000 // page_size))


class PageReadAhead:
    """The next pages of the walks a worker is serving (at most ``capacity``)."""

    def __init__(self, *, enabled: bool = True, capacity: int = 16) -> None:
        self.enabled = enabled
        self._capacity = capacity
        self._pending: OrderedDict[PageKey, Future[PageBody]] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.counts = ReadAheadCounts()
        # Tenant -> (pages not to read ahead, how many after the next stale one): a page
        # that went stale says the tenant is being written now; reading ahead then is
        # mostly work thrown away, so it backs off, more after each stale page (up to
        # MAX_SKIPS), and a page served resets it.
        self._backoff: dict[int, tuple[int, int]] = {}

    def take(self, key: PageKey, stamp: TenantStamp, *, wait: float) -> PageBody | None:
        """The page read ahead for ``key`` if it is still what a read now gives.

        A page still being read is waited for (at most ``wait`` seconds): reading it
        again would only compete with that read for the same worker's time.
        """
        with self._lock:
            future = self._pending.pop(key, None)
        page = self._finished(future, wait)
        if page is None:
            self._count("misses")
        elif page.stamp != stamp:
            self._count("stale")
            with self._lock:
                _, after_stale = self._backoff.get(key.tenant_id, (0, 1))
                self._backoff[key.tenant_id] = (after_stale, min(2 * after_stale, MAX_SKIPS))
            page = None
        else:
            self._count("hits")
            with self._lock:
                self._backoff.pop(key.tenant_id, None)
        return page

    def settle(self, timeout: float) -> None:
        """Wait until the pages being read ahead now are read (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending.values())
        for future in pending:
            self._finished(future, timeout)

    @staticmethod
    def _finished(future: Future[PageBody] | None, wait: float) -> PageBody | None:
        if future is None:
            return None
        try:
            return future.result(timeout=wait)
        except (Exception, CancelledError):  # a real error recurs when read again
            return None

    def _count(self, outcome: str) -> None:
        READ_AHEAD.labels(_LABELS[outcome]).inc()
        with self._lock:
            self.counts = replace(self.counts, **{outcome: getattr(self.counts, outcome) + 1})

    def read_ahead(self, key: PageKey, build: Callable[[], PageBody]) -> None:
        """Start building ``key``'s page in the background (the oldest dropped if full)."""
        if not self.enabled:
            return
        with self._lock:
            if key in self._pending or self._skipped(key.tenant_id):
                return
            while len(self._pending) >= self._capacity:
                _, oldest = self._pending.popitem(last=False)
                oldest.cancel()
            if self._executor is None:
                # One thread: a worker reads ahead for its walks one page at a time,
                # so read-ahead never takes more than one thread's share of the worker.
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="page-read-ahead")
            self._pending[key] = self._executor.submit(build)

    def read_next(
        self, key: PageKey, engine: Engine, read: Callable[[TenantStamp], PageBody]
    ) -> None:
        """Read ``key``'s page ahead: the tenant's stamp first, then the page under it."""
        self.read_ahead(key, lambda: read(tenant_stamp(engine, key.tenant_id)))

    def _skipped(self, tenant_id: int) -> bool:
        """Whether to skip this read-ahead of the tenant's (under ``_lock``)."""
        skips, after_stale = self._backoff.get(tenant_id, (0, 1))
        if skips == 0:
            return False
        self._backoff[tenant_id] = (skips - 1, after_stale)
        return True

    def close(self) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), OrderedDict()
            executor, self._executor = self._executor, None
        for future in pending:
            future.cancel()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
