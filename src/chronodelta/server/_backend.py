"""The connector backend: the API's state and behaviour, with no HTTP in it.

Methods are named after the vendor's operations and take the caller's tenant id as
their first argument: every query below filters on it, so no operation can read or
write another tenant's rows. Routes (``routes/``) parse requests, call these and
serialize; the benchmarks call them directly to measure the cost without HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingDraft, ClockingKind, ClockingStatus, FilterCriteria
from chronodelta.storage import _schema as schema
from chronodelta.storage import is_postgresql, read_transaction, write_transaction

from ._errors import BadRequest, Conflict, NotFound
from ._serialize import (
    CLOCKING_COLUMNS,
    Wire,
    clocking_to_wire,
    reference_columns,
    reference_serializer,
)
from ._tracked import TRACKED, Page, read_page

clockings = schema.clockings


class ConnectorBackend:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reference_serializers: dict[str, Callable[[Sequence[Any]], Wire]] = {
            name: reference_serializer(name) for name in schema.REFERENCE_TABLES
        }

    # ---- clockings: reads -----------------------------------------------------------

    def list_clockings(
        self, tenant_id: int, criteria: FilterCriteria, after: tuple[Any, ...] | None, limit: int
    ) -> Page:
        """Clockings matching ``criteria`` in (date, id) order, after ``after``."""
        with read_transaction(self.engine) as connection:
            return read_page(connection, TRACKED["clockings"], tenant_id, criteria, after, limit)

    def get_clocking(self, tenant_id: int, clocking_id: int) -> Wire:
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(*CLOCKING_COLUMNS).where(
                    clockings.c.tenant_id == tenant_id, clockings.c.id == clocking_id
                )
            ).first()
        if row is None:
            raise NotFound(f"Clocking {clocking_id} does not exist")
        return clocking_to_wire(row)

    # ---- clockings: writes ----------------------------------------------------------

    def create_clocking(self, tenant_id: int, draft: ClockingDraft) -> Wire:
        with write_transaction(self.engine, tenant_id) as tx:
            check_clocking_references(tx.connection, tenant_id, draft)
            (clocking_id,) = tx.allocate_ids("clockings")
            values = clocking_values(draft, tenant_id, clocking_id, tx.next_change_version())
            tx.connection.execute(clockings.insert().values(values))
            return self._get_clocking_in(tx.connection, tenant_id, clocking_id)

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
            return self._get_clocking_in(tx.connection, tenant_id, clocking_id)

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

    def _get_clocking_in(self, connection: sa.Connection, tenant_id: int, clocking_id: int) -> Wire:
        row = connection.execute(
            sa.select(*CLOCKING_COLUMNS).where(*_clocking_key(tenant_id, clocking_id))
        ).one()
        return clocking_to_wire(row)

    # ---- reference collections ------------------------------------------------------

    def list_references(
        self, tenant_id: int, collection: str, after: tuple[Any, ...] | None, limit: int
    ) -> Page:
        with read_transaction(self.engine) as connection:
            return read_page(connection, TRACKED[collection], tenant_id, None, after, limit)

    def get_reference(self, tenant_id: int, collection: str, record_id: int) -> Wire:
        table = schema.REFERENCE_TABLES[collection]
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(*reference_columns(collection)).where(
                    table.c.tenant_id == tenant_id, table.c.id == record_id
                )
            ).first()
        if row is None:
            raise NotFound(f"No {collection} record with id {record_id}")
        return self._reference_serializers[collection](row)


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


def record_departure(
    connection: sa.Connection, collection: str, old: sa.Row[Any], version: int, *, removed: bool
) -> None:
    """Keep ``old``'s filter attributes: the change at ``version`` moved or removed it."""
    connection.execute(
        schema.departures.insert().values(
            tenant_id=old.tenant_id,
            collection=collection,
            record_id=old.id,
            change_version=version,
            old_date=getattr(old, "date", None),
            old_kind=getattr(old, "kind", None),
            removed=removed,
        )
    )


def check_clocking_references(
    connection: sa.Connection, tenant_id: int, draft: ClockingDraft
) -> None:
    """400 unless the kind's fields fit and every record pointed at exists in the tenant."""
    reasons = validate_kind_fields(draft)
    for label, table, record_id in (
        ("person", schema.people, draft.person_id),
        ("terminal", schema.terminals, draft.terminal_id),
        ("reason", schema.absence_definitions, draft.reason_id),
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
    table = schema.activity_definitions
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
