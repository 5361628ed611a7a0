"""The connector backend: the API's state and behaviour, with no HTTP in it.

Methods are named after the vendor's operations and take the caller's tenant id as
their first argument: every query below filters on it, so no operation can read or
write another tenant's rows. Routes (``routes/``) parse requests, call these and
serialize; the benchmarks call them directly to measure the cost without HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import (
    PREDEFINED_REFERENCES,
    ClockingDraft,
    ClockingKind,
    ClockingStatus,
    ExternalReference,
    FilterCriteria,
)
from chronodelta.storage import (
    WriteTransaction,
    is_postgresql,
    read_transaction,
    tables,
    write_transaction,
)

from ._auth import utc_now
from ._calculation import PersonDay, recalculate
from ._errors import BadRequest, Conflict, NotFound
from ._external_references import add_external_references, checked_references, resolve_reference
from ._serialize import (
    Wire,
)
from ._tracked import TRACKED, Page, read_page, record_departure

clockings = tables.clockings


class ConnectorBackend:
    """``calculate_totals=False`` leaves paid presences and activity durations alone:
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
        references: Sequence[ExternalReference] = (),
    ) -> Page:
        """Clockings matching ``criteria`` in (date, id) order, after ``after``."""
        return self._list("clockings", tenant_id, criteria, after, limit, references)

    def get_clocking(
        self, tenant_id: int, clocking_id: int, references: Sequence[ExternalReference] = ()
    ) -> Wire:
        return self._get("clockings", tenant_id, clocking_id, references)

    def list_paid_presences(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: Sequence[ExternalReference] = (),
    ) -> Page:
        return self._list("paid-presences", tenant_id, criteria, after, limit, references)

    def get_paid_presence(
        self, tenant_id: int, record_id: int, references: Sequence[ExternalReference] = ()
    ) -> Wire:
        return self._get("paid-presences", tenant_id, record_id, references)

    def list_activity_durations(
        self,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: Sequence[ExternalReference] = (),
    ) -> Page:
        return self._list("activity-durations", tenant_id, criteria, after, limit, references)

    def get_activity_duration(
        self, tenant_id: int, record_id: int, references: Sequence[ExternalReference] = ()
    ) -> Wire:
        return self._get("activity-durations", tenant_id, record_id, references)

    def _list(
        self,
        collection: str,
        tenant_id: int,
        criteria: FilterCriteria,
        after: tuple[Any, ...] | None,
        limit: int,
        references: Sequence[ExternalReference],
    ) -> Page:
        with read_transaction(self.engine) as connection:
            page = read_page(connection, TRACKED[collection], tenant_id, criteria, after, limit)
            add_external_references(connection, tenant_id, collection, references, page.records)
            return page

    def _get(
        self,
        collection: str,
        tenant_id: int,
        record_id: int,
        references: Sequence[ExternalReference],
    ) -> Wire:
        with read_transaction(self.engine) as connection:
            record = _read_record(connection, collection, tenant_id, record_id)
            if record is None:
                raise NotFound(f"No {collection} record with id {record_id}")
            add_external_references(connection, tenant_id, collection, references, [record])
        return record

    # ---- clockings: writes ----------------------------------------------------------

    def create_clocking(self, tenant_id: int, draft: ClockingDraft) -> Wire:
        with write_transaction(self.engine, tenant_id) as tx:
            check_clocking_references(tx.connection, tenant_id, draft)
            (clocking_id,) = tx.allocate_ids("clockings")
            values = clocking_values(draft, tenant_id, clocking_id, tx.next_change_version())
            tx.connection.execute(clockings.insert().values(values))
            self._recalculate(tx, [(draft.person_id, draft.date)])
            return _written(tx.connection, tenant_id, clocking_id)

    def update_clocking(
        self, tenant_id: int, clocking_id: int, draft: ClockingDraft, if_match: str | None
    ) -> Wire:
        """Replace the writable fields (PUT); the first edit of the time keeps the original."""
        with write_transaction(self.engine, tenant_id) as tx:
            current = self._lock_clocking(tx.connection, tenant_id, clocking_id, if_match)
            if current.status == ClockingStatus.DELETED:
                raise Conflict(reasons=[f"Clocking {clocking_id} is deleted and cannot be changed"])
            check_clocking_references(tx.connection, tenant_id, draft)
            original = current.original_time_of_day
            if original is None and draft.time_of_day != current.time_of_day:
                original = current.time_of_day
            version = tx.next_change_version()
            values = clocking_values(draft, tenant_id, clocking_id, version)
            values.update(original_time_of_day=original, is_generated=current.is_generated)
            if (current.date, current.kind) != (draft.date, draft.kind.value):
                record_departure(tx.connection, "clockings", current, version, removed=False)
            tx.connection.execute(
                clockings.update().where(*_clocking_key(tenant_id, clocking_id)).values(values)
            )
            self._recalculate(
                tx, [(current.person_id, current.date), (draft.person_id, draft.date)]
            )
            return _written(tx.connection, tenant_id, clocking_id)

    def delete_clocking(self, tenant_id: int, clocking_id: int, if_match: str | None) -> None:
        """Soft delete (contract: the clocking stays, with status Deleted)."""
        with write_transaction(self.engine, tenant_id) as tx:
            current = self._lock_clocking(tx.connection, tenant_id, clocking_id, if_match)
            if current.status == ClockingStatus.DELETED:
                return  # deleting twice changes nothing, so it takes no new version
            tx.connection.execute(
                clockings.update()
                .where(*_clocking_key(tenant_id, clocking_id))
                .values(
                    status=ClockingStatus.DELETED.value, change_version=tx.next_change_version()
                )
            )
            self._recalculate(tx, [(current.person_id, current.date)])

    def purge_clocking(self, tenant_id: int, clocking_id: int) -> None:
        """Remove a clocking for good (a hard delete, unlike DELETE's soft delete).

        Not an API operation: retention and the calculation use it. Its new version
        goes to the departure row, so that open deltas still report the removal.
        """
        with write_transaction(self.engine, tenant_id) as tx:
            current = self._lock_clocking(tx.connection, tenant_id, clocking_id, None)
            version = tx.next_change_version()
            record_departure(tx.connection, "clockings", current, version, removed=True)
            tx.connection.execute(clockings.delete().where(*_clocking_key(tenant_id, clocking_id)))
            self._recalculate(tx, [(current.person_id, current.date)])

    def _recalculate(self, tx: WriteTransaction, person_days: list[PersonDay]) -> None:
        if self.calculate_totals:
            recalculate(tx, person_days)

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
        self, tenant_id: int, collection: str, after: tuple[Any, ...] | None, limit: int
    ) -> Page:
        with read_transaction(self.engine) as connection:
            return read_page(connection, TRACKED[collection], tenant_id, None, after, limit)

    def get_reference(self, tenant_id: int, collection: str, record_id: int) -> Wire:
        return self._get(collection, tenant_id, record_id, ())

    # ---- external references --------------------------------------------------------

    def check_external_references(
        self, tenant_id: int, endpoint: str, text: str | None
    ) -> tuple[ExternalReference, ...]:
        """The pairs of an ``externalReferences`` query value for ``endpoint``; 400 if bad."""
        with read_transaction(self.engine) as connection:
            return checked_references(connection, tenant_id, endpoint, text)

    def resolve_external_references(
        self, tenant_id: int, wanted: Sequence[ReferenceLookup]
    ) -> dict[str, int]:
        """The ids that write-body fields name by external reference (400 if not one)."""
        found, problems = {}, []
        with read_transaction(self.engine) as connection:
            for lookup in wanted:
                ids = resolve_reference(
                    connection, tenant_id, lookup.collection, lookup.name, lookup.value
                )
                if len(ids) == 1:
                    found[lookup.field] = ids[0]
                else:
                    count = "no" if not ids else "more than one"
                    problems.append(
                        f"{lookup.field}: {count} {lookup.collection} record has "
                        f"{lookup.name} {lookup.value!r}"
                    )
        if problems:
            raise BadRequest(reasons=problems)
        return found

    def get_external_references(self, tenant_id: int, collection: str, record_id: int) -> Wire:
        """A record's references: every predefined one and the custom ones set on it."""
        with read_transaction(self.engine) as connection:
            return _references_of(connection, tenant_id, collection, record_id)

    def set_external_reference(
        self, tenant_id: int, collection: str, record_id: int, name: str, value: str
    ) -> Wire:
        custom = tables.external_references
        with write_transaction(self.engine, tenant_id) as tx:
            _references_of(tx.connection, tenant_id, collection, record_id)  # 404 if missing
            holder = resolve_reference(tx.connection, tenant_id, collection, name, value)
            if holder and holder != [record_id]:
                raise Conflict(
                    reasons=[
                        f"{collection} record {holder[0]} already has {name} {value!r}; "
                        "a reference value names one record"
                    ]
                )
            key = _custom_key(tenant_id, collection, record_id, name)
            tx.connection.execute(custom.delete().where(*key))
            tx.connection.execute(
                custom.insert().values(
                    tenant_id=tenant_id,
                    collection=collection,
                    record_id=record_id,
                    name=name,
                    value=value,
                    updated_at=utc_now(),
                )
            )
            return _references_of(tx.connection, tenant_id, collection, record_id)

    def delete_external_reference(
        self, tenant_id: int, collection: str, record_id: int, name: str
    ) -> None:
        custom = tables.external_references
        with write_transaction(self.engine, tenant_id) as tx:
            key = _custom_key(tenant_id, collection, record_id, name)
            if tx.connection.execute(custom.delete().where(*key)).rowcount == 0:
                _references_of(tx.connection, tenant_id, collection, record_id)  # 404 record
                raise NotFound(f"{collection} record {record_id} has no reference {name!r}")


def _read_record(
    connection: sa.Connection, collection: str, tenant_id: int, record_id: int
) -> Wire | None:
    tracked = TRACKED[collection]
    table = tracked.table
    row = connection.execute(
        sa.select(*tracked.columns).where(table.c.tenant_id == tenant_id, table.c.id == record_id)
    ).first()
    return None if row is None else tracked.to_wire(row)


def _written(connection: sa.Connection, tenant_id: int, clocking_id: int) -> Wire:
    """The clocking a write just stored, as the response shows it."""
    record = _read_record(connection, "clockings", tenant_id, clocking_id)
    assert record is not None  # written in this transaction
    return record


@dataclass(frozen=True, slots=True)
class ReferenceLookup:
    """A write-body field that names its record by external reference."""

    field: str
    collection: str
    name: str
    value: str


def _references_of(
    connection: sa.Connection, tenant_id: int, collection: str, record_id: int
) -> Wire:
    table = tables.REFERENCE_TABLES[collection]
    predefined = PREDEFINED_REFERENCES[collection]
    row = connection.execute(
        sa.select(*(table.c[column] for column in predefined.values())).where(
            table.c.tenant_id == tenant_id, table.c.id == record_id
        )
    ).first()
    if row is None:
        raise NotFound(f"No {collection} record with id {record_id}")
    references = dict(zip(predefined, row, strict=True))
    custom = tables.external_references
    rows = connection.execute(
        sa.select(custom.c.name, custom.c.value)
        .where(
            custom.c.tenant_id == tenant_id,
            custom.c.collection == collection,
            custom.c.record_id == record_id,
        )
        .order_by(custom.c.name)
    )
    references.update({name: value for name, value in rows})
    return {"id": record_id, "externalReferences": references}


def _custom_key(
    tenant_id: int, collection: str, record_id: int, name: str
) -> tuple[sa.ColumnElement[bool], ...]:
    custom = tables.external_references
    return (
        custom.c.tenant_id == tenant_id,
        custom.c.collection == collection,
        custom.c.record_id == record_id,
        custom.c.name == name,
    )


def _clocking_key(tenant_id: int, clocking_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (clockings.c.tenant_id == tenant_id, clockings.c.id == clocking_id)


def etag(change_version: int) -> str:
    return f'"{change_version:020X}"'


def etag_matches(header: str, change_version: int) -> bool:
    """Whether an If-Match / If-None-Match header names this version (or is ``*``)."""
    current = etag(change_version)
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate in ("*", current):
            return True
    return False


def clocking_values(
    draft: ClockingDraft, tenant_id: int, clocking_id: int, change_version: int
) -> dict[str, Any]:
    """The row of a clocking; ``calculated_time_of_day`` is the (corrected) time."""
    levels = None
    if draft.activity_levels:
        levels = orjson.dumps(
            [[lv.level, lv.activity_definition_id] for lv in draft.activity_levels]
        ).decode()
    return {
        "tenant_id": tenant_id,
        "id": clocking_id,
        "change_version": change_version,
        "person_id": draft.person_id,
        "date": draft.date,
        "time_of_day": draft.time_of_day,
        "original_time_of_day": draft.original_time_of_day,
        "calculated_time_of_day": draft.time_of_day,
        "is_generated": draft.is_generated,
        "terminal_id": draft.terminal_id,
        "longitude": draft.longitude,
        "latitude": draft.latitude,
        "kind": draft.kind.value,
        "reason_id": draft.reason_id,
        "is_open": draft.is_open,
        "activity_levels": levels,
        "status": draft.status.value,
    }


def check_clocking_references(
    connection: sa.Connection, tenant_id: int, draft: ClockingDraft
) -> None:
    """400 unless the kind's fields fit and every record pointed at exists in the tenant."""
    reasons = validate_kind_fields(draft)
    for label, table, record_id in (
        ("person", tables.people, draft.person_id),
        ("terminal", tables.terminals, draft.terminal_id),
        ("reason", tables.absence_definitions, draft.reason_id),
    ):
        if record_id is not None and not _exists(connection, table, tenant_id, record_id):
            reasons.append(f"{label}.id: {record_id} does not exist")
    reasons += _activity_level_problems(connection, tenant_id, draft)
    if reasons:
        raise BadRequest(reasons=reasons)


def _exists(connection: sa.Connection, table: sa.Table, tenant_id: int, record_id: int) -> bool:
    query = sa.select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.id == record_id)
    return connection.execute(query).first() is not None


def _activity_level_problems(
    connection: sa.Connection, tenant_id: int, draft: ClockingDraft
) -> list[str]:
    """Levels must be 1..n, each definition of its level, each a child of the one above."""
    levels = draft.activity_levels
    if not levels:
        return []
    if [lv.level for lv in levels] != list(range(1, len(levels) + 1)):
        return ["activityLevels: levels must be 1, 2, ... in order, each once"]
    table = tables.activity_definitions
    ids = [lv.activity_definition_id for lv in levels]
    rows = connection.execute(
        sa.select(table.c.id, table.c.level, table.c.parent_id).where(
            table.c.tenant_id == tenant_id, table.c.id.in_(ids)
        )
    ).all()
    found = {row.id: row for row in rows}
    problems = []
    for index, lv in enumerate(levels):
        row = found.get(lv.activity_definition_id)
        where = f"activityLevels[{index}].activityDefinition.id"
        if row is None:
            problems.append(f"{where}: {lv.activity_definition_id} does not exist")
        elif row.level != lv.level:
            problems.append(f"{where}: definition {row.id} is of level {row.level}, not {lv.level}")
        elif index > 0 and row.parent_id != levels[index - 1].activity_definition_id:
            problems.append(f"{where}: definition {row.id} is not under the level above")
    return problems


def validate_kind_fields(draft: ClockingDraft) -> list[str]:
    """Kind-specific fields (contract): reason and isOpen only on Reason, levels on Activity."""
    problems = []
    if draft.kind == ClockingKind.REASON and draft.reason_id is None:
        problems.append("reason: required when kind is Reason")
    if draft.kind != ClockingKind.REASON and draft.reason_id is not None:
        problems.append("reason: only allowed when kind is Reason")
    if draft.kind != ClockingKind.REASON and draft.is_open is not None:
        problems.append("isOpen: only allowed when kind is Reason")
    if draft.kind == ClockingKind.ACTIVITY and not draft.activity_levels:
        problems.append("activityLevels: required (at least one level) when kind is Activity")
    if draft.kind != ClockingKind.ACTIVITY and draft.activity_levels:
        problems.append("activityLevels: only allowed when kind is Activity")
    return problems
