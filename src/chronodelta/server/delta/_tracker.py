"""Delta synchronization: start, snapshot pages, change feeds, expiry (docs/delta.md).

The rules (contract, "Delta"):

* Starting a delta records its *snapshot version* S, the tenant's highest committed
  version. Snapshot pages show the records in the filter whose version is <= S: a
  record changed after S is left out of the pages and delivered by the first delta
  call instead, so the pages plus that call are exactly the data at the time of the
  call, with no record skipped or doubled.
* The first deltaLink's cursor lies before S by the overlap window (default 5 min):
  changes made shortly before the start are delivered again, as the vendor does.
* A change feed for cursor C returns every record whose version is in (C, H], H the
  highest committed version when the call starts, once, in its latest state, in
  version order: InsertOrUpdate when it is in the filter now; Delete when it is not
  but was in it at some version after the client's *known* version K, or when it was
  removed. K is the version the client's copy reflects: the snapshot S for the first
  deltaLink (whose cursor lies before S, by the overlap), C afterwards. A record's past
  filter attributes come from the ``departures`` log. Records never in the filter
  since K are not reported. The new deltaLink's cursor (and K) is H. Because writes
  commit in version order (``storage/_transactions.py``), no version <= H can appear
  later, so nothing is ever missed.

Issue 13, item 1: expiry counts in the tenant's time (``server/clock``), the clock the
request read (``principal.clock``): a delta's uses are stamped with it, and it expires
72 hours of that time after its last one, so ``clock advance 73h`` expires it at once.
An expired delta is deleted when a request finds it so, as an operator's ``deltas
expire`` deletes it: its data is gone (contract), and turning the clock back later
does not bring it back. The overlap window compares commit marks, which are wall time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import (
    API_PREFIX,
    ExternalReference,
    FilterCriteria,
    format_change_version,
)
from chronodelta.server._clock import as_utc, utc_now
from chronodelta.server._errors import BadRequest, Gone
from chronodelta.server._signing import TokenSigner
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.records._compiled import driver_row_chunks
from chronodelta.server.records._serialize import Wire
from chronodelta.server.records._tracked import Page, TrackedCollection, read_page
from chronodelta.server.references._lookup import add_external_references
from chronodelta.storage import (
    is_postgresql,
    plain_write_transaction,
    read_transaction,
    tables,
)

SNAPSHOT_PURPOSE = "delta-snapshot"
CHANGES_PURPOSE = "delta"
ACTIVE, SUPERSEDED = "active", "superseded"
# Issue 13, item 4: "Open deltas of the tenant answer 410" after a reset or restore.
ENDED_BY_RESET = "reset"
CHUNK = 1000
# A change feed is read whole before its response starts; up to this many bytes stay
# in memory, the rest goes to a temporary file (a 415,000-change body is ~150 MB).
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
READ_BYTES = 256 * 1024
INVALID_TOKEN = "The deltaToken is invalid"


@dataclass(frozen=True, slots=True)
class DeltaState:
    id: int
    tenant_id: int
    client_id: str
    collection: str
    filter_text: str
    filter_canonical: str
    options: dict[str, Any]
    snapshot_version: int
    first_cursor: int
    started_on: dt.date


@dataclass(frozen=True, slots=True)
class Position:
    """Where a deltaLink stands: changes after ``cursor``, to a copy at ``known``."""

    cursor: int
    known: int


class ChangeFeed:
    """The changes of one delta call, read in full before the response starts.

    Issue 9: a response that fails after its status line reaches the client as a cut
    body. So every database read happens first, inside one read transaction, into a
    spooled temporary file (memory first, disk past ``SPOOL_MEMORY_BYTES``); the
    response then only copies bytes, and a write committed meanwhile cannot change
    what it returns.
    """

    def __init__(self, high_water: int, fragments: Iterator[bytes]) -> None:
        """``fragments``: the items in order, as runs of comma-separated JSON items."""
        self.high_water = high_water
        # Closed by chunks() once streamed (or by the GC if no response is sent).
        self._body: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_MEMORY_BYTES
        )
        for fragment in fragments:
            if fragment:
                self._body.write((b"," if self._body.tell() else b"") + fragment)
        self.size = self._body.tell()

    def _parts(self, delta_link: str) -> tuple[bytes, bytes]:
        return b'{"value":[', b'],"deltaLink":' + orjson.dumps(delta_link) + b"}"

    def content_length(self, delta_link: str) -> int:
        head, tail = self._parts(delta_link)
        return len(head) + self.size + len(tail)

    def chunks(self, delta_link: str) -> Iterator[bytes]:
        head, tail = self._parts(delta_link)
        try:
            yield head
            self._body.seek(0)
            while chunk := self._body.read(READ_BYTES):
                yield chunk
            yield tail
        finally:
            self._body.close()


def recorded_use_slack(ttl: dt.timedelta) -> dt.timedelta:
    """How stale a delta's recorded last use may be (``DeltaTracker._touch``): a
    thousandth of its lifetime, at most a minute (72 hours: 1 minute; 3 s: 3 ms)."""
    return min(dt.timedelta(minutes=1), ttl / 1000)


def delta_link(collection: str, token: str) -> str:
    return f"{API_PREFIX}/delta/{collection}?deltaToken={token}"


class DeltaTracker:
    def __init__(
        self,
        engine: Engine,
        signer: TokenSigner,
        *,
        ttl_seconds: int,
        overlap_seconds: int,
    ) -> None:
        self.engine = engine
        self._signer = signer
        self.ttl = dt.timedelta(seconds=ttl_seconds)
        self.overlap = dt.timedelta(seconds=overlap_seconds)

    # ---- tokens ---------------------------------------------------------------------

    def snapshot_token(self, state: DeltaState) -> str:
        return self._signer.sign(SNAPSHOT_PURPOSE, {"d": state.id, "t": state.tenant_id})

    def changes_token(self, state: DeltaState, cursor: int, known: int) -> str:
        """A deltaLink's token: changes after ``cursor`` to a client whose copy is at ``known``."""
        # The issue time makes every deltaLink new, even when nothing changed (the
        # vendor's token carries a TimeStamp too).
        issued = utc_now().isoformat(timespec="microseconds")
        return self._signer.sign(
            CHANGES_PURPOSE,
            {"d": state.id, "t": state.tenant_id, "c": cursor, "k": known, "i": issued},
        )

    def first_changes_token(self, state: DeltaState) -> str:
        return self.changes_token(state, state.first_cursor, state.snapshot_version)

    # ---- lifecycle ------------------------------------------------------------------

    def start(
        self,
        principal: Principal,
        collection: str,
        filter_text: str,
        canonical: str,
        options: dict[str, Any],
        today: dt.date,
    ) -> DeltaState:
        """A new active delta; the client's previous one for the collection is superseded."""
        now = principal.clock.now()
        with plain_write_transaction(self.engine) as connection:
            _lock_client(connection, principal.client_id)
            snapshot = committed_version(connection, principal.tenant_id)
            # Commit marks carry wall time (storage), so the overlap counts in it.
            window_start = utc_now() - self.overlap
            first_cursor = min(
                snapshot, self._cursor_at(connection, principal.tenant_id, window_start)
            )
            connection.execute(
                tables.deltas.update()
                .where(*_owner(principal, collection), tables.deltas.c.status == ACTIVE)
                .values(status=SUPERSEDED)
            )
            delta_id = connection.scalar(
                tables.deltas.insert()
                .values(
                    tenant_id=principal.tenant_id,
                    client_id=principal.client_id,
                    collection=collection,
                    filter_text=filter_text,
                    filter_canonical=canonical,
                    options=orjson.dumps(options).decode(),
                    snapshot_version=snapshot,
                    first_cursor=first_cursor,
                    status=ACTIVE,
                    started_on=today,
                    created_at=now,
                    last_used_at=now,
                )
                .returning(tables.deltas.c.id)
            )
        assert delta_id is not None
        return DeltaState(
            delta_id,
            principal.tenant_id,
            principal.client_id,
            collection,
            filter_text,
            canonical,
            options,
            snapshot,
            first_cursor,
            today,
        )

    def resume(
        self, principal: Principal, collection: str, token: str, *, snapshot: bool
    ) -> tuple[DeltaState, Position]:
        """The live delta a token names, and its position; 400 or 410 otherwise."""
        purpose = SNAPSHOT_PURPOSE if snapshot else CHANGES_PURPOSE
        payload = self._signer.verify(purpose, token)
        # Another client's or tenant's token is refused like a forged one: no data,
        # and nothing that tells whether the delta exists.
        if payload is None or payload.get("t") != principal.tenant_id:
            raise BadRequest(reasons=[INVALID_TOKEN])
        delta_id, cursor, known = payload.get("d"), payload.get("c", 0), payload.get("k", 0)
        if not all(isinstance(v, int) for v in (delta_id, cursor, known)):
            raise BadRequest(reasons=[INVALID_TOKEN])
        assert isinstance(delta_id, int)
        row = self._touch(delta_id, principal.tenant_id, principal.clock.now())
        if row is None:
            raise Gone(
                "The delta has expired",
                reasons=[
                    "This delta is unknown or its data was deleted after it expired; "
                    "start a new delta from the list endpoint with &delta"
                ],
            )
        if row.client_id != principal.client_id or row.collection != collection:
            raise BadRequest(reasons=[INVALID_TOKEN])
        if row.status == SUPERSEDED:
            raise Gone(
                "The delta was superseded",
                reasons=[
                    "A newer delta was started for this collection by this API client; "
                    "only one delta per collection is active: use the newest deltaLink"
                ],
            )
        if row.status == ENDED_BY_RESET:
            raise Gone(
                "The tenant was reset",
                reasons=[
                    "An operator reset or restored this tenant's data after the delta "
                    "started; start a new delta from the list endpoint with &delta"
                ],
            )
        return _state(row), Position(cursor, known)

    def _touch(self, delta_id: int, tenant_id: int, now: dt.datetime) -> sa.Row[Any] | None:
        """Load the delta and record this request (which keeps it alive), unless expired.

        Seed 004: every call counts towards the 72 hours. Recording a use is a write,
        and on SQLite every write takes the database's one write lock, so a delta
        polled often would queue behind the writers on every call (issue 9's load mix:
        0.67 of the writers' rate). So a use is written only when the stored one is
        older than ``recorded_use_slack``, and expiry allows for that slack: a delta
        expires between 72 hours and 72 hours plus the slack (at most a minute) after
        its last request, never earlier. ``now`` is the tenant's time.
        """
        table = tables.deltas
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(table).where(table.c.id == delta_id, table.c.tenant_id == tenant_id)
            ).first()
        if row is None:
            return None
        last_used = as_utc(row.last_used_at)
        if now - last_used > self.ttl + recorded_use_slack(self.ttl):
            forget_delta(self.engine, delta_id)
            hours = self.ttl.total_seconds() / 3600
            raise Gone(
                "The delta has expired",
                reasons=[
                    f"The delta was not used for more than {hours:g} hours and expired; "
                    "start a new delta from the list endpoint with &delta"
                ],
            )
        if now - last_used >= recorded_use_slack(self.ttl):
            # A write from its first statement (SQLite: BEGIN IMMEDIATE), so it queues
            # for the lock instead of failing at a read-to-write upgrade.
            with plain_write_transaction(self.engine) as connection:
                connection.execute(
                    table.update()
                    .where(table.c.id == delta_id, table.c.last_used_at < now)
                    .values(last_used_at=now)
                )
        return row

    def _cursor_at(self, connection: sa.Connection, tenant_id: int, moment: dt.datetime) -> int:
        """The highest version committed before ``moment`` (0 if none is known)."""
        marks = tables.change_marks
        found = connection.scalar(
            sa.select(sa.func.max(marks.c.change_version)).where(
                marks.c.tenant_id == tenant_id, marks.c.committed_at < moment
            )
        )
        return int(found or 0)

    # ---- reading --------------------------------------------------------------------

    def snapshot_page(
        self,
        tracked: TrackedCollection,
        state: DeltaState,
        criteria: FilterCriteria | None,
        after: tuple[Any, ...] | None,
        limit: int,
        references: Sequence[ExternalReference] = (),
    ) -> Page:
        """A page of the snapshot: records in the filter with versions <= S."""
        with read_transaction(self.engine) as connection:
            page = read_page(
                connection,
                tracked,
                state.tenant_id,
                criteria,
                after,
                limit,
                max_version=state.snapshot_version,
            )
            add_external_references(
                connection, state.tenant_id, tracked.name, references, page.records
            )
            return page

    def changes(
        self,
        tracked: TrackedCollection,
        state: DeltaState,
        criteria: FilterCriteria | None,
        position: Position,
        references: Sequence[ExternalReference] = (),
    ) -> ChangeFeed:
        """The change feed at ``position``, read whole (see ``ChangeFeed``)."""
        # One snapshot for the high-water mark and every query after it.
        with read_transaction(self.engine, snapshot=True) as connection:
            high_water = committed_version(connection, state.tenant_id)
            reader = _FeedReader(
                connection, tracked, state.tenant_id, criteria, position, high_water, references
            )
            fragments = reader.fragments() if high_water > position.cursor else iter(())
            return ChangeFeed(high_water, fragments)


class _FeedReader:
    """The change items of one call, merged in version order, read in chunks.

    Issue 14, item 2: a chunk of rows goes through the collection's compiled page
    serializer (``records/_compiled.py``, driver rows, no ``Row`` objects) and its items
    are written with one ``orjson.dumps`` per chunk, not one per item. Items are
    ordered by their change version's hex text: 20 digits, so it sorts as the number.
    """

    def __init__(
        self,
        connection: sa.Connection,
        tracked: TrackedCollection,
        tenant_id: int,
        criteria: FilterCriteria | None,
        position: Position,
        high_water: int,
        references: Sequence[ExternalReference],
    ) -> None:
        self.connection = connection
        self.tracked, self.tenant_id, self.criteria = tracked, tenant_id, criteria
        self.references = references
        self.cursor, self.known, self.high_water = position.cursor, position.known, high_water

    def fragments(self) -> Iterator[bytes]:
        """The items as JSON, a chunk at a time (``item,item,...``), in version order."""
        for batch in merge_removals(self._current(), self._removed()):
            if batch:
                yield orjson.dumps([item for _version, item in batch])[1:-1]

    def _current(self) -> Iterator[list[Item]]:
        """Records changed in (cursor, high_water] that are in scope now or were before."""
        table, departures = self.tracked.table, tables.departures
        serializer = self.tracked.page_serializer(self.connection.dialect.name)
        moved = sa.select(departures.c.record_id).where(
            departures.c.tenant_id == self.tenant_id,
            departures.c.collection == self.tracked.name,
            departures.c.change_version > self.cursor,
        )
        in_filter = sa.and_(sa.true(), *self.tracked.conditions(self.criteria, self.tenant_id))
        query = (
            sa.select(*serializer.columns)
            .where(
                table.c.tenant_id == self.tenant_id,
                table.c.change_version > self.cursor,
                table.c.change_version <= self.high_water,
                sa.or_(in_filter, table.c.id.in_(moved)),
            )
            .order_by(table.c.change_version)
        )
        for rows in driver_row_chunks(self.connection, query, CHUNK):
            yield self._current_chunk(serializer.serialize(rows))

    def _current_chunk(self, wires: list[Wire]) -> list[Item]:
        matching = self.tracked.select_in_scope(self.criteria, wires)
        if len(matching) == len(wires):  # the usual case: every record is in the filter
            add_external_references(
                self.connection, self.tenant_id, self.tracked.name, self.references, matching
            )
            return [(wire["changeVersion"], _insert_or_update(wire)) for wire in wires]
        matched_ids = {w["id"] for w in matching}
        was_in = self._in_scope_since_known([w["id"] for w in wires if w["id"] not in matched_ids])
        add_external_references(
            self.connection, self.tenant_id, self.tracked.name, self.references, matching
        )
        items: list[Item] = []
        for wire in wires:
            if wire["id"] in matched_ids:
                items.append((wire["changeVersion"], _insert_or_update(wire)))
            elif wire["id"] in was_in:
                items.append((wire["changeVersion"], _delete(wire["changeVersion"], wire["id"])))
        return items

    def _removed(self) -> Iterator[Item]:
        """Records removed for good in (known, high_water] that the client may have."""
        departures = tables.departures
        query = (
            sa.select(departures.c.record_id, departures.c.change_version)
            .where(
                departures.c.tenant_id == self.tenant_id,
                departures.c.collection == self.tracked.name,
                departures.c.removed.is_(True),
                departures.c.change_version > self.known,
                departures.c.change_version <= self.high_water,
            )
            .order_by(departures.c.change_version)
        )
        streamed = {"stream_results": True, "yield_per": CHUNK}
        for chunk in self.connection.execute(query, execution_options=streamed).partitions():
            was_in = self._in_scope_since_known([row.record_id for row in chunk])
            for row in chunk:
                if row.record_id in was_in:
                    version = format_change_version(row.change_version)
                    yield version, _delete(version, row.record_id)

    def _in_scope_since_known(self, ids: list[int]) -> set[int]:
        """Which of these records were in the filter at some version after the known one.

        Those are the ones the client may have: at the known version (the attributes of
        the first departure after it), or later, through a link followed after this one
        was issued (a replayed older link must still delete them). A record that was
        never in the filter in that time is never reported.
        """
        if not ids:
            return set()
        departures = tables.departures
        rows = self.connection.execute(
            sa.select(departures.c.record_id, departures.c.old_date, departures.c.old_kind).where(
                departures.c.tenant_id == self.tenant_id,
                departures.c.collection == self.tracked.name,
                departures.c.record_id.in_(ids),
                departures.c.change_version > self.known,
            )
        ).all()
        return {
            row.record_id
            for row in rows
            if self.tracked.in_scope(self.criteria, row.old_date, row.old_kind)
        }


# A change item and its version's hex text, which orders items as their versions.
Item = tuple[str, Wire]
_VERSION = itemgetter(0)


def merge_removals(current: Iterator[list[Item]], removed: Iterator[Item]) -> Iterator[list[Item]]:
    """Both streams' items in version order, in batches: each batch of ``current`` with
    the removals that come before its last item (the rest of them at the end)."""
    pending = next(removed, None)
    for batch in current:
        last = batch[-1][0] if batch else ""
        extra = []
        while pending is not None and pending[0] <= last:
            extra.append(pending)
            pending = next(removed, None)
        yield sorted(batch + extra, key=_VERSION) if extra else batch
    rest = [] if pending is None else [pending]
    for item in removed:
        rest.append(item)
        if len(rest) >= CHUNK:
            yield rest
            rest = []
    yield rest


def _insert_or_update(wire: Wire) -> Wire:
    return {"changeType": "InsertOrUpdate", "data": wire}


def _delete(version: str, record_id: int) -> Wire:
    return {"changeType": "Delete", "data": {"changeVersion": version, "id": record_id}}


def forget_delta(engine: Engine, delta_id: int) -> bool:
    """Delete an expired delta (contract: "its data is deleted"); whether it was there."""
    with plain_write_transaction(engine) as connection:
        removed = connection.execute(tables.deltas.delete().where(tables.deltas.c.id == delta_id))
    return removed.rowcount > 0


def committed_version(connection: sa.Connection, tenant_id: int) -> int:
    """The tenant's highest committed change version (every lower one is committed too)."""
    counters = tables.tenant_counters
    value = connection.scalar(
        sa.select(counters.c.value).where(
            counters.c.tenant_id == tenant_id, counters.c.name == "change_version"
        )
    )
    return int(value or 0)


def end_tenant_deltas(connection: sa.Connection, tenant_id: int) -> int:
    """End every active delta of the tenant (a reset: they answer 410 from now on).

    Called in the reset's own transaction. On PostgreSQL it first locks the tenant's
    API clients, as a delta start does (``_lock_client``): a start running meanwhile
    either committed before (and is ended here) or waits and snapshots the new state.
    """
    clients = sa.select(tables.api_clients.c.id).where(tables.api_clients.c.tenant_id == tenant_id)
    if is_postgresql(connection.engine):
        connection.execute(clients.order_by(tables.api_clients.c.id).with_for_update())
    ended = connection.execute(
        tables.deltas.update()
        .where(tables.deltas.c.tenant_id == tenant_id, tables.deltas.c.status == ACTIVE)
        .values(status=ENDED_BY_RESET)
    )
    return int(ended.rowcount)


def _lock_client(connection: sa.Connection, client_id: str) -> None:
    """Serialize delta starts of one API client (so only one ends up active)."""
    query = sa.select(tables.api_clients.c.id).where(tables.api_clients.c.client_id == client_id)
    if is_postgresql(connection.engine):
        query = query.with_for_update()
    connection.execute(query)


def _owner(principal: Principal, collection: str) -> tuple[sa.ColumnElement[bool], ...]:
    table = tables.deltas
    return (
        table.c.tenant_id == principal.tenant_id,
        table.c.client_id == principal.client_id,
        table.c.collection == collection,
    )


def _state(row: sa.Row[Any]) -> DeltaState:
    return DeltaState(
        row.id,
        row.tenant_id,
        row.client_id,
        row.collection,
        row.filter_text,
        row.filter_canonical,
        orjson.loads(row.options),
        row.snapshot_version,
        row.first_cursor,
        row.started_on,
    )
