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
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._tracker import ChangeFeed, DeltaState, DeltaTracker, delta_link
from chronodelta.server.records._lists import FILTER_SAFE
from chronodelta.server.records._paging import PagePosition, PageTokenCodec, filter_digest
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
    ) -> None:
        self.tracker = tracker
        self._references = references
        self._pages = pages
        self._settings = settings

    def snapshot_page(
        self, principal: Principal, tracked: TrackedCollection, query: SnapshotQuery
    ) -> dict[str, Any]:
        """A page of a delta's initial snapshot (the body); without a token, a new delta."""
        if query.delta_token is None:
            state, criteria, references = self._start(principal, tracked, query)
            after = None
        else:
            state, criteria, after = self._resume_snapshot(principal, tracked, query)
            references = state_references(state)
        page = self.tracker.snapshot_page(
            tracked, state, criteria, after, self._settings.page_size, references
        )
        body: dict[str, Any] = {"value": page.records}
        key = continue_after(tracked, page, first=query.delta_token is None)
        if key is not None:
            body["nextLink"] = self._next_link(tracked, state, key, query.filter_text)
        else:
            body["deltaLink"] = delta_link(tracked.name, self.tracker.first_changes_token(state))
        return body

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
            after = self._pages.decode(
                query.continuation, principal.tenant_id, tracked.name, digest
            ).key or None
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
