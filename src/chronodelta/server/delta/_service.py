"""The delta operations the routes call: a snapshot page (the first one starts the
delta) and a deltaLink's changes.

Contract, "Delta": the initial response is always paged; every ``nextLink`` carries the
filter, a ``continuationToken`` and a ``deltaToken``; the last page, always empty (seed
000's examples), carries ``deltaLink`` instead. A deltaLink answers all changes since it
in one response with a fresh deltaLink. A delta keeps the ``externalReferences`` it was
started with (they work with delta as with lists): its pages and change feeds all carry
them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from chronodelta.domain import (
    ExternalReference,
    FilterCriteria,
    FilterError,
    compile_filter,
    format_external_references,
    parse_external_references,
)
from chronodelta.server._errors import BadRequest
from chronodelta.server._settings import Settings
from chronodelta.server._tenant_now import TenantStamp, tenant_stamp
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._tracker import ChangeFeed, DeltaState, DeltaTracker, delta_link
from chronodelta.server.records._lists import FILTER_SAFE
from chronodelta.server.records._paging import PagePosition, PageTokenCodec, filter_digest
from chronodelta.server.records._read_ahead import (
    UNSTAMPED,
    PageBody,
    PageKey,
    PageReadAhead,
)
from chronodelta.server.records._tracked import Page, TrackedCollection
from chronodelta.server.references._store import ReferenceStore


@dataclass(frozen=True, slots=True)
class SnapshotQuery:
    """The query of a list call with ``&delta`` (a start) or a ``deltaToken`` (a page)."""

    filter_text: str | None
    continuation: str | None
    delta_token: str | None
    external_references: str | None = None


@dataclass(frozen=True, slots=True)
class Changes:
    """A deltaLink call's answer: the changes, read whole, and the next deltaLink."""

    feed: ChangeFeed
    delta_link: str


class DeltaService:
    def __init__(
        self,
        tracker: DeltaTracker,
        references: ReferenceStore,
        pages: PageTokenCodec,
        settings: Settings,
        read_ahead: PageReadAhead | None = None,
    ) -> None:
        self.tracker = tracker
        self._references = references
        self._pages = pages
        self._settings = settings
        self._read_ahead = read_ahead or PageReadAhead(enabled=False)

    def snapshot_page(
        self, principal: Principal, tracked: TrackedCollection, query: SnapshotQuery
    ) -> bytes:
        """A page of a delta's initial snapshot (its JSON); without a token, a new delta.

        Later pages are read ahead as list pages are (``records/_read_ahead.py``): a
        write that moves a record out of the snapshot (a version past the delta's)
        raises the change version, so a page read before it is not served.
        """
        if query.delta_token is None:
            state, criteria, references = self._start(principal, tracked, query)
            walk = _SnapshotWalk(self, tracked, state, criteria, references, query.filter_text)
            page = walk.read(None, None, first=True)
        else:
            state, criteria, after = self._resume_snapshot(principal, tracked, query)
            walk = _SnapshotWalk(
                self, tracked, state, criteria, state_references(state), query.filter_text
            )
            page = self._later_page(walk, after, principal.stamp)
        if page.next_key is not None:
            walk.read_ahead(page.next_key)
        return page.body

    def _later_page(
        self, walk: _SnapshotWalk, after: tuple[Any, ...] | None, known: TenantStamp | None
    ) -> PageBody:
        """A later snapshot page: the one read ahead if still current, else read now.
        ``known``: the stamp the request read (``server/_tenant_now.py``); a snapshot page
        needs it only with read-ahead on."""
        if not self._read_ahead.enabled:
            return walk.read(after, None)
        stamp = known or tenant_stamp(self.tracker.engine, walk.state.tenant_id)
        ahead = self._read_ahead.take(walk.key(after), stamp, wait=self._settings.db_busy_timeout)
        return ahead or walk.read(after, stamp)

    def _snapshot_body(
        self,
        tracked: TrackedCollection,
        state: DeltaState,
        page: Page,
        filter_text: str | None,
        *,
        first: bool,
    ) -> tuple[bytes, tuple[Any, ...] | None]:
        """A snapshot page's JSON, and where the next page starts (None: this is the last)."""
        body: dict[str, Any] = {"value": page.records}
        key = continue_after(tracked, page, first=first)
        if key is not None:
            body["nextLink"] = self._next_link(tracked, state, key, filter_text)
        else:
            body["deltaLink"] = delta_link(tracked.name, self.tracker.first_changes_token(state))
        return orjson.dumps(body), key

    def changes(self, principal: Principal, tracked: TrackedCollection, token: str) -> Changes:
        """Every change since the deltaLink's ``token``, and the next deltaLink."""
        state, at = self.tracker.resume(principal, tracked.name, token, snapshot=False)
        criteria = delta_filter(tracked, state.filter_text, state.started_on)
        feed = self.tracker.changes(tracked, state, criteria, at, state_references(state))
        # Never step back: a replayed first link can read a high-water below the snapshot.
        reached = max(feed.high_water, at.known)
        link = delta_link(tracked.name, self.tracker.changes_token(state, reached, reached))
        return Changes(feed, link)

    def _start(
        self, principal: Principal, tracked: TrackedCollection, query: SnapshotQuery
    ) -> tuple[DeltaState, FilterCriteria | None, tuple[ExternalReference, ...]]:
        today = principal.clock.today()  # the tenant's (issue 13, item 1)
        criteria = delta_filter(tracked, query.filter_text, today)
        canonical = criteria.canonical() if criteria is not None else ""
        references = self._references.check(
            principal.tenant_id, tracked.name, query.external_references
        )
        options = {"externalReferences": format_external_references(references)}
        state = self.tracker.start(
            principal,
            tracked.name,
            query.filter_text or "",
            canonical,
            options if references else {},
            today,
        )
        return state, criteria, references

    def _resume_snapshot(
        self, principal: Principal, tracked: TrackedCollection, query: SnapshotQuery
    ) -> tuple[DeltaState, FilterCriteria | None, tuple[Any, ...] | None]:
        assert query.delta_token is not None
        state, _ = self.tracker.resume(principal, tracked.name, query.delta_token, snapshot=True)
        criteria = delta_filter(tracked, query.filter_text, state.started_on)
        canonical = criteria.canonical() if criteria is not None else ""
        if state.filter_canonical != canonical:
            raise BadRequest(
                reasons=[
                    "The filter differs from the one this delta was started with; "
                    "follow nextLink as given"
                ]
            )
        after = None
        if query.continuation is not None:
            digest = filter_digest(canonical)
            # An empty key: the first page was empty, and the walk starts again at the top.
            after = (
                self._pages.decode(
                    query.continuation, principal.tenant_id, tracked.name, digest
                ).key
                or None
            )
        return state, criteria, after

    def _next_link(
        self,
        tracked: TrackedCollection,
        state: DeltaState,
        key: tuple[Any, ...],
        filter_text: str | None,
    ) -> str:
        continuation = self._pages.encode(
            state.tenant_id, tracked.name, filter_digest(state.filter_canonical), PagePosition(key)
        )
        query = [f"filter={quote(filter_text, safe=FILTER_SAFE)}"] if filter_text else []
        query += [
            f"continuationToken={continuation}",
            f"deltaToken={self.tracker.snapshot_token(state)}",
        ]
        return f"{tracked.info.path}?{'&'.join(query)}"


@dataclass(frozen=True)
class _SnapshotWalk:
    """The pages of one delta's snapshot walk, read now or ahead (``snapshot_page``)."""

    service: DeltaService
    tracked: TrackedCollection
    state: DeltaState
    criteria: FilterCriteria | None
    references: tuple[ExternalReference, ...]
    filter_text: str | None

    def key(self, after: tuple[Any, ...] | None) -> PageKey:
        return PageKey(
            self.state.tenant_id,
            self.tracked.name,
            self.state.filter_canonical,
            after,
            self.service._settings.page_size,
            format_external_references(self.references),
            delta_id=self.state.id,
        )

    def read(
        self, after: tuple[Any, ...] | None, stamp: TenantStamp | None, *, first: bool = False
    ) -> PageBody:
        """The page after ``after``, read now (``stamp``, if any, read before it)."""
        service = self.service
        page = service.tracker.snapshot_page(
            self.tracked,
            self.state,
            self.criteria,
            after,
            service._settings.page_size,
            self.references,
        )
        body, key = service._snapshot_body(
            self.tracked, self.state, page, self.filter_text, first=first
        )
        return PageBody(stamp or UNSTAMPED, body, key)

    def read_ahead(self, after: tuple[Any, ...]) -> None:
        """Read the page after ``after`` in the background, its stamp first."""
        self.service._read_ahead.read_next(
            self.key(after), self.service.tracker.engine, lambda stamp: self.read(after, stamp)
        )


def continue_after(
    tracked: TrackedCollection, page: Page, *, first: bool
) -> tuple[Any, ...] | None:
    """Where the next snapshot page starts, or None when this page is the last.

    Seed 000: "The initial delta response is always paginated. You must walk through
    all pages before a deltaLink appears", and both of its examples end with an empty
    last page. So a page with records is never the last (the next one starts after its
    last record), and the first page never is, even when empty (the next one starts
    at the top again: the empty key); only an empty later page carries the deltaLink.
    """
    if page.next_key is not None:
        return page.next_key
    if page.records:
        return tracked.page_key(page.records[-1])
    return () if first else None


def delta_filter(
    tracked: TrackedCollection, text: str | None, today: dt.date
) -> FilterCriteria | None:
    """The delta's filter under the contract's delta rules (400 with reasons otherwise).

    ``today`` is the day the delta started once it exists, so that a live delta's
    filter stays valid when the calendar moves on (say, past New Year).
    """
    if tracked.filter_spec is None or not tracked.dated:
        # A reference list's filter (counter definitions) selects on values a record
        # can leave without a departure row; its delta takes none, and sends them all.
        if text:
            where = "" if tracked.filter_spec is None else " in a delta"
            raise BadRequest(
                reasons=[f"The {tracked.name} collection does not support filter{where}"]
            )
        return None
    try:
        return compile_filter(text, tracked.filter_spec, mode="delta", today=today)
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None


def state_references(state: DeltaState) -> tuple[ExternalReference, ...]:
    """The external references a delta was started with (checked then)."""
    text = state.options.get("externalReferences")
    return parse_external_references(text, state.collection) if text else ()
