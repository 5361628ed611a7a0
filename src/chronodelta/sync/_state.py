"""The sync state of one collection: a small frozen value, changed by pure functions.

A mirror keeps one ``SyncState`` per collection, in the same database as the mirrored
rows. Every API response (a snapshot page or a delta response) is applied in one
transaction that also stores the state that follows it (``after_page`` or
``after_changes``), so the stored state always describes exactly the rows committed
with it. The functions here decide; ``_mirror.py`` stores; ``_runner.py`` fetches.

Phases:

* ``snapshot`` with ``link`` None: a delta has to be started (first run, after a 410,
  or after the filter changed). ``begin_generation`` bumps ``generation``.
* ``snapshot`` with ``link`` set: mid-snapshot; ``link`` is the stored ``nextLink``.
* ``delta``: ``link`` is the newest ``deltaLink``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from ._exceptions import InvalidTransition

Phase = Literal["snapshot", "delta"]

# Contract: a delta expires 72 hours after its last request.
DELTA_EXPIRY = dt.timedelta(hours=72)


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where the sync of one collection stands (see the module docstring).

    ``filter`` and ``external_references`` are the query the current delta was started
    with; a different request starts over. ``generation`` numbers the snapshots: rows
    stamped with an older generation than the one whose snapshot just completed are
    swept. ``snapshot_records`` counts the records of the current snapshot so far;
    ``changes_applied`` the delta changes applied since it. ``link_stored_at`` is when
    the stored link was received (the delta expires 72 h after its last request);
    ``last_success`` is when the mirror was last brought fully up to date.
    ``revision`` increases with every commit (optimistic guard against two syncs).
    ``client_id`` is the API client whose delta ``link`` belongs to: a delta is the
    client's own, so another client must start a new one.
    """

    collection: str
    source: str
    filter: str
    external_references: str
    phase: Phase = "snapshot"
    link: str | None = None
    generation: int = 0
    snapshot_records: int = 0
    changes_applied: int = 0
    last_success: dt.datetime | None = None
    link_stored_at: dt.datetime | None = None
    revision: int = 0
    client_id: str = ""

    @property
    def needs_start(self) -> bool:
        """A new delta must be started (and a new snapshot walked)."""
        return self.phase == "snapshot" and self.link is None

    def expires_at(self) -> dt.datetime | None:
        """When the stored link's delta expires (72 h after its last request)."""
        return None if self.link_stored_at is None else self.link_stored_at + DELTA_EXPIRY


def new_state(
    collection: str, source: str, filter: str, external_references: str, client_id: str = ""
) -> SyncState:
    """The state of a collection never synced: a delta must be started."""
    return SyncState(collection, source, filter, external_references, client_id=client_id)


def matches(state: SyncState, source: str, filter: str, external_references: str) -> bool:
    """Whether ``state`` was started for this source and query."""
    return (state.source, state.filter, state.external_references) == (
        source,
        filter,
        external_references,
    )


def begin_generation(
    state: SyncState, *, filter: str | None = None, external_references: str | None = None
) -> SyncState:
    """Start over: a new delta and a new snapshot generation (first run, 410, new filter).

    The rows of older generations stay until the new snapshot is complete, then they
    are swept (``_mirror.Mirror.apply_page``), so a reader never sees the mirror
    emptied in between.
    """
    return dataclasses.replace(
        state,
        filter=state.filter if filter is None else filter,
        external_references=(
            state.external_references if external_references is None else external_references
        ),
        phase="snapshot",
        link=None,
        generation=state.generation + 1,
        snapshot_records=0,
        changes_applied=0,
        link_stored_at=None,
        revision=state.revision + 1,
    )


def after_page(
    state: SyncState,
    *,
    records: int,
    next_link: str | None,
    delta_link: str | None,
    now: dt.datetime,
) -> SyncState:
    """The state after a snapshot page of ``records`` records is stored.

    The last page (``delta_link`` set) completes the snapshot: the phase becomes
    ``delta``, and the page's transaction also sweeps older generations.
    """
    if state.phase != "snapshot":
        raise InvalidTransition("a snapshot page arrived while following deltas")
    if (next_link is None) == (delta_link is None):
        raise InvalidTransition("a snapshot page has exactly one of nextLink and deltaLink")
    last = delta_link is not None
    return dataclasses.replace(
        state,
        phase="delta" if last else "snapshot",
        link=delta_link if last else next_link,
        snapshot_records=state.snapshot_records + records,
        link_stored_at=now,
        revision=state.revision + 1,
    )


def after_changes(
    state: SyncState, *, applied: int, delta_link: str, now: dt.datetime
) -> SyncState:
    """The state after a delta response is applied: the mirror is up to date as of now."""
    if state.phase != "delta":
        raise InvalidTransition("a delta response arrived during the snapshot")
    return dataclasses.replace(
        state,
        link=delta_link,
        changes_applied=state.changes_applied + applied,
        last_success=now,
        link_stored_at=now,
        revision=state.revision + 1,
    )
