"""The connector backend: the API's state and behaviour, with no HTTP in it.

Methods are named after the vendor's operations and take the caller's tenant id as
their first argument: every query below filters on it, so no operation can read or
write another tenant's rows. Each opens one transaction (``storage``); routes parse
requests, call one of these and serialize; the benchmarks call them directly to
measure the cost without HTTP. The clocking rules live in ``_clockings.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import (
    ClockingDraft,
    ClockingStatus,
    ExternalReference,
    FilterCriteria,
)
from chronodelta.server._errors import BadRequest, Conflict, NotFound
from chronodelta.server._models import ClockingBody
from chronodelta.server.records._clockings import (
    check_clocking_references,
    clocking_reference_problems,
    clocking_values,
    draft_from_body,
    etag_matches,
)
from chronodelta.server.records._reference_facts import (
    SIGNATURE_COLUMNS,
    STALE,
    ReferenceFacts,
    cached_facts,
    facts_at,
    reference_facts,
    signature_query,
)
from chronodelta.server.records._serialize import (
    Wire,
)
from chronodelta.server.records._tracked import TRACKED, Page, departure_row, read_page
from chronodelta.server.references._lookup import (
    add_external_references,
    addressed_record,
    checked_references,
)
from chronodelta.server.totals._calculation import PersonDay, recalculate
from chronodelta.storage import (
    ReadBack,
    RowWrite,
    WriteTransaction,
    is_postgresql,
    late_write_transaction,
    read_transaction,
    tables,
)

clockings = tables.clockings
T = TypeVar("T")
# PostgreSQL's foreign_key_violation: a row write named a record that is gone.
_FOREIGN_KEY_VIOLATION = "23503"
# A write names its records by id (a draft: the seeder, the benchmarks), or as the API
# body does, by id or by one external reference each.
ClockingWrite = ClockingDraft | ClockingBody


@dataclass(frozen=True)
class Checked:
    """The tenant's reference facts a write checked its ``draft`` against (None: a
    delete, which checks nothing and recalculates with them). ``confirmed``: read in
    this transaction; else the cached ones, which the signature its row write reads
    confirms or not (issue 14, item 1: one round trip fewer on PostgreSQL)."""

    facts: ReferenceFacts
    confirmed: bool
    draft: ClockingDraft | None = None


Facts = Checked | None
# The references to add to the records read: checked pairs, or a request's
# ``externalReferences`` text, checked in the read's own transaction (400 if bad).
References = Sequence[ExternalReference] | str | None


class ConnectorBackend:
    """``calculate_totals=False`` leaves the calculated totals (paid presences, activity
    durations, calculated totals) alone:
    only the write benchmark's baseline uses it (it measures what they cost)."""

    def __init__(self, engine: Engine, *, calculate_totals: bool = True) -> None:
        self.engine = engine
        self.calculate_totals = calculate_totals

    # ---- reads: clockings and calculated totals ------------------------------------

    def list_clockings(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References = (),
    ) -> Page:
        """Clockings matching ``criteria`` in (date, id) order, after ``after``."""
        return self._list("clockings", tenant_id, criteria, after, limit, references)

    def get_clocking(self, tenant_id: int, clocking_id: int, references: References = ()) -> Wire:
        return self._get("clockings", tenant_id, clocking_id, references)

    def list_paid_presences(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References = (),
    ) -> Page:
        return self._list("paid-presences", tenant_id, criteria, after, limit, references)

    def get_paid_presence(
        self, tenant_id: int, record_id: int, references: References = ()
    ) -> Wire:
        return self._get("paid-presences", tenant_id, record_id, references)

    def list_activity_durations(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References = (),
    ) -> Page:
        return self._list("activity-durations", tenant_id, criteria, after, limit, references)

    def get_activity_duration(
        self, tenant_id: int, record_id: int, references: References = ()
    ) -> Wire:
        return self._get("activity-durations", tenant_id, record_id, references)

    def list_calculated_totals(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References = (),
    ) -> Page:
        return self._list("calculated-totals", tenant_id, criteria, after, limit, references)

    def get_calculated_total(
        self, tenant_id: int, record_id: int, references: References = ()
    ) -> Wire:
        return self._get("calculated-totals", tenant_id, record_id, references)

    def _list(
        self,
        collection: str,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References,
    ) -> Page:
        with read_transaction(self.engine) as connection:
            pairs = _checked(connection, tenant_id, collection, references)
            page = read_page(connection, TRACKED[collection], tenant_id, criteria, after, limit)
            add_external_references(connection, tenant_id, collection, pairs, page.records)
            return page

    def _get(
        self,
        collection: str,
        tenant_id: int,
        record_id: int,
        references: References,
    ) -> Wire:
        with read_transaction(self.engine) as connection:
            pairs = _checked(connection, tenant_id, collection, references)
            record = _read_record(connection, collection, tenant_id, record_id)
            if record is None:
                raise NotFound(f"No {collection} record with id {record_id}")
            add_external_references(connection, tenant_id, collection, pairs, [record])
        return record

    # ---- clockings: writes ----------------------------------------------------------

    def create_clocking(self, tenant_id: int, write: ClockingWrite) -> Wire:
        """A new clocking (POST); a body's references are resolved in the same transaction."""
        return self._late_write(tenant_id, lambda tx, cached: self._create(tx, write, cached))

    def _create(self, tx: WriteTransaction, write: ClockingWrite, cached: bool) -> Wire:
        tenant_id = tx.tenant_id
        draft = _as_draft(tx.connection, tenant_id, write)
        facts = self._checked(tx, draft, cached)
        (clocking_id,) = tx.allocate_ids("clockings")
        version = tx.next_change_version(clockings)
        values = clocking_values(draft, tenant_id, clocking_id, version)
        insert = RowWrite(clockings, values)
        self._recalculate(tx, [(draft.person_id, draft.date)], facts, insert)
        return _stamped(tx, clocking_id)

    def update_clocking(
        self, tenant_id: int, clocking_id: int, write: ClockingWrite, if_match: str | None
    ) -> Wire:
        """Replace the writable fields (PUT); the first edit of the time keeps the original."""
        return self._late_write(
            tenant_id, lambda tx, cached: self._update(tx, clocking_id, write, if_match, cached)
        )

    def _update(
        self,
        tx: WriteTransaction,
        clocking_id: int,
        write: ClockingWrite,
        if_match: str | None,
        cached: bool,
    ) -> Wire:
        tenant_id = tx.tenant_id
        draft = _as_draft(tx.connection, tenant_id, write)
        current = self._lock_clocking(tx.connection, tenant_id, clocking_id, if_match)
        if current.status == ClockingStatus.DELETED:
            raise Conflict(reasons=[f"Clocking {clocking_id} is deleted and cannot be changed"])
        facts = self._checked(tx, draft, cached)
        original = current.original_time_of_day
        if original is None and draft.time_of_day != current.time_of_day:
            original = current.time_of_day
        version = tx.next_change_version(clockings)
        values = clocking_values(draft, tenant_id, clocking_id, version)
        values.update(original_time_of_day=original, is_generated=current.is_generated)
        if (current.date, current.kind) != (draft.date, draft.kind.value):
            departure = departure_row("clockings", current, version, removed=False)
            tx.insert_versioned(tables.departures, [departure])
        days = [(current.person_id, current.date), (draft.person_id, draft.date)]
        self._recalculate(tx, days, facts, RowWrite(clockings, values, update=True))
        return _stamped(tx, clocking_id)

    def delete_clocking(self, tenant_id: int, clocking_id: int, if_match: str | None) -> None:
        """Soft delete (contract: the clocking stays, with status Deleted)."""
        self._late_write(
            tenant_id, lambda tx, cached: self._delete(tx, clocking_id, if_match, cached)
        )

    def _delete(
        self, tx: WriteTransaction, clocking_id: int, if_match: str | None, cached: bool
    ) -> None:
        tenant_id = tx.tenant_id
        current = self._lock_clocking(tx.connection, tenant_id, clocking_id, if_match)
        if current.status == ClockingStatus.DELETED:
            return  # deleting twice changes nothing, so it takes no new version
        version = tx.next_change_version(clockings)
        deleted = {"tenant_id": tenant_id, "id": clocking_id, "change_version": version,
                   "status": ClockingStatus.DELETED.value}  # fmt: skip
        update = RowWrite(clockings, deleted, update=True)
        known = cached_facts(self.engine, tenant_id) if cached else None
        facts = None if known is None else Checked(known, confirmed=False)
        self._recalculate(tx, [(current.person_id, current.date)], facts, update)

    def _late_write(self, tenant_id: int, work: Callable[[WriteTransaction, bool], T]) -> T:
        """``work`` in a late write transaction; ``work(tx, cached)`` may check its
        draft against the cached reference facts (``cached``), which its row write
        then confirms (``_recalculate``): on PostgreSQL, one round trip fewer.

        A row write that names a record the cache still had fails on its foreign
        key: the transaction is rolled back (a late write holds no version lock
        before its seal, so nothing else waited for it) and the write runs once
        more with the facts read afresh, answering as that one would have (400 with
        the same reasons, or 201 if the record is back)."""
        cached = self.calculate_totals and is_postgresql(self.engine)
        try:
            with late_write_transaction(self.engine, tenant_id) as tx:
                return work(tx, cached)
        except sa.exc.IntegrityError as error:
            if not cached or getattr(error.orig, "sqlstate", None) != _FOREIGN_KEY_VIOLATION:
                raise
        STALE.count(redone=True)
        with late_write_transaction(self.engine, tenant_id) as tx:
            return work(tx, False)

    def _checked(self, tx: WriteTransaction, draft: ClockingDraft, cached: bool) -> Checked:
        """The facts ``draft`` fits (400 unless it does): the cached ones (unconfirmed)
        if it fits them, else those of this transaction (the cache may be stale)."""
        known = cached_facts(self.engine, tx.tenant_id) if cached else None
        if known is not None and not clocking_reference_problems(known, draft):
            return Checked(known, confirmed=False, draft=draft)
        facts = check_clocking_references(tx.connection, tx.tenant_id, draft)
        return Checked(facts, confirmed=True, draft=draft)

    def purge_clocking(self, tenant_id: int, clocking_id: int) -> None:
        """Remove a clocking for good (a hard delete, unlike DELETE's soft delete).

        Not an API operation: retention and the calculation use it. Its new version
        goes to the departure row, so that open deltas still report the removal.
        """
        with late_write_transaction(self.engine, tenant_id) as tx:
            current = self._lock_clocking(tx.connection, tenant_id, clocking_id, None)
            version = tx.next_change_version()  # the departure's (insert_versioned)
            departure = departure_row("clockings", current, version, removed=True)
            tx.insert_versioned(tables.departures, [departure])
            tx.connection.execute(clockings.delete().where(*_clocking_key(tenant_id, clocking_id)))
            self._recalculate(tx, [(current.person_id, current.date)])

    def _recalculate(
        self,
        tx: WriteTransaction,
        person_days: list[PersonDay],
        facts: Facts = None,
        along: RowWrite | None = None,
    ) -> None:
        """The write's clocking row (``along``) and the recalculation of its days."""
        if not self.calculate_totals:
            if along is not None:
                _write_row(tx.connection, along)
            return
        if facts is not None and not facts.confirmed:
            people = sorted({person for person, _ in person_days})
            row = tx.lock_people(people, along, read=signature_query())
            assert row is not None  # a read was asked for
            along = None  # written with the lock
            facts = _confirmed(tx, facts, tuple(row)[:SIGNATURE_COLUMNS])
        # A delete checks no references; its recalculation still takes the shifts and
        # counter links from the cached facts (one query instead of three).
        checked = reference_facts(tx.connection, tx.tenant_id) if facts is None else facts.facts
        recalculate(tx, person_days, checked, along)

    def _lock_clocking(
        self, connection: sa.Connection, tenant_id: int, clocking_id: int, if_match: str | None
    ) -> sa.Row[Any]:
        query = sa.select(clockings).where(*_clocking_key(tenant_id, clocking_id))
        if is_postgresql(self.engine):
            query = query.with_for_update()
        row = connection.execute(query).first()
        if row is None:
            raise NotFound(f"Clocking {clocking_id} does not exist")
        if if_match is not None and not etag_matches(if_match, row.change_version):
            raise Conflict(
                reasons=[
                    "If-Match does not match the clocking's current ETag; GET it again and retry"
                ]
            )
        return row

    # ---- reference collections ------------------------------------------------------

    def list_references(
        self,
        tenant_id: int,
        collection: str,
        after: tuple[Any, ...] | None,
        limit: int,
        references: References = (),
        criteria: FilterCriteria | None = None,
    ) -> Page:
        """A page of a reference collection, in id order (``criteria``: counter
        definitions' filter), with the requested external references (read in the same
        snapshot as the records: a custom one may change meanwhile)."""
        with read_transaction(self.engine, snapshot=True) as connection:
            pairs = _checked(connection, tenant_id, collection, references)
            page = read_page(connection, TRACKED[collection], tenant_id, criteria, after, limit)
            add_external_references(connection, tenant_id, collection, pairs, page.records)
            return page

    def get_reference(
        self, tenant_id: int, collection: str, value: int | str, references: References = ()
    ) -> Wire:
        """The record ``GET .../{collection}/{value}`` names: by id, or by the value of
        the collection's own reference in ``references`` (``references/_lookup.py``).

        One snapshot: on PostgreSQL's READ COMMITTED the record found by value V could
        otherwise be shown with the value a write set a moment later (the readers and
        writers test saw it)."""
        with read_transaction(self.engine, snapshot=True) as connection:
            pairs = _checked(connection, tenant_id, collection, references)
            record_id = addressed_record(connection, tenant_id, collection, str(value), pairs)
            record = _read_record(connection, collection, tenant_id, record_id)
            if record is None:
                raise NotFound(f"No {collection} record with id {value!r}")
            add_external_references(connection, tenant_id, collection, pairs, [record])
        return record


def _read_record(
    connection: sa.Connection, collection: str, tenant_id: int, record_id: int
) -> Wire | None:
    tracked = TRACKED[collection]
    table = tracked.table
    row = connection.execute(
        sa.select(*tracked.columns).where(table.c.tenant_id == tenant_id, table.c.id == record_id)
    ).first()
    return None if row is None else tracked.to_wire(row)


def _write_row(connection: sa.Connection, write: RowWrite) -> None:
    """The clocking's own row, as a write without the calculation writes it."""
    table, row = write.table, write.row
    if not write.update:
        connection.execute(table.insert().values(row))
        return
    key = (table.c.tenant_id == row["tenant_id"], table.c.id == row["id"])
    changed = {name: value for name, value in row.items() if name not in ("tenant_id", "id")}
    connection.execute(table.update().where(*key).values(changed))


def _confirmed(tx: WriteTransaction, checked: Checked, signature: tuple[Any, ...]) -> Checked:
    """The cached facts a write checked against, if ``signature`` (read by its row
    write) is still theirs; else the facts read now, the draft checked again against
    them (400 as a write that read them first would give)."""
    if tuple(int(value or 0) for value in signature) == checked.facts.signature:
        return Checked(checked.facts, confirmed=True, draft=checked.draft)
    STALE.count(redone=False)
    facts = facts_at(tx.connection, tx.tenant_id, signature)
    if checked.draft is not None:
        reasons = clocking_reference_problems(facts, checked.draft)
        if reasons:
            raise BadRequest(reasons=reasons)
    return Checked(facts, confirmed=True, draft=checked.draft)


def _stamped(tx: WriteTransaction, clocking_id: int) -> Wire:
    """The write's versions made final (the version lock, held to commit), and the
    clocking it stored as the response shows it, with its final id and version: on
    PostgreSQL one statement after the lock does all of it (``storage._seal``)."""
    tracked = TRACKED["clockings"]
    row = tx.seal(ReadBack(clockings, tracked.columns, clocking_id, "clockings"))
    assert row is not None  # written in this transaction
    return tracked.to_wire(row)


def _checked(
    connection: sa.Connection, tenant_id: int, collection: str, references: References
) -> Sequence[ExternalReference]:
    if references is None or isinstance(references, str):
        return checked_references(connection, tenant_id, collection, references)
    return references


def _as_draft(connection: sa.Connection, tenant_id: int, write: ClockingWrite) -> ClockingDraft:
    return (
        write if isinstance(write, ClockingDraft) else draft_from_body(connection, tenant_id, write)
    )


def _clocking_key(tenant_id: int, clocking_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (clockings.c.tenant_id == tenant_id, clockings.c.id == clocking_id)
