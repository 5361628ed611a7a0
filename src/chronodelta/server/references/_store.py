"""The custom external-reference store, and resolving references named in write bodies.

Contract, "External references": predefined references (``@...``) are fields of the
records; custom ones are key-value pairs set by the integrator (scope
external-references.write), and a value names one record per collection and name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import PREDEFINED_REFERENCES, ExternalReference
from chronodelta.server._clock import utc_now
from chronodelta.server._errors import BadRequest, Conflict, NotFound
from chronodelta.server.records._serialize import Wire
from chronodelta.server.references._lookup import (
    checked_references,
    public_id,
    resolve_reference,
)
from chronodelta.storage import read_transaction, tables, write_transaction

# A record's id as the API shows it: an integer, or a GUID (activity definitions).
RecordId = int | str


@dataclass(frozen=True, slots=True)
class ReferenceLookup:
    """A write-body field that names its record by external reference."""

    field: str
    collection: str
    name: str
    value: str


def resolve_lookups(
    connection: sa.Connection, tenant_id: int, wanted: Sequence[ReferenceLookup]
) -> dict[str, Any]:
    """The ids that write-body fields name by external reference (400 if not one).

    Runs inside the write that uses the ids, so a reference cannot move between the
    lookup and the write.
    """
    found: dict[str, Any] = {}
    problems = []
    for lookup in wanted:
        ids = resolve_reference(connection, tenant_id, lookup.collection, lookup.name, lookup.value)
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


class ReferenceStore:
    """Operations on external references; every one is scoped to the caller's tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def check(
        self, tenant_id: int, endpoint: str, text: str | None
    ) -> tuple[ExternalReference, ...]:
        """The pairs of an ``externalReferences`` query value for ``endpoint``; 400 if bad."""
        with read_transaction(self.engine) as connection:
            return checked_references(connection, tenant_id, endpoint, text)

    def get_external_references(
        self, tenant_id: int, collection: str, record_id: RecordId
    ) -> Wire:
        """A record's references: every predefined one and the custom ones set on it.

        ``record_id`` is the id the API shows (a GUID for activity definitions)."""
        with read_transaction(self.engine) as connection:
            return _references_of(connection, tenant_id, collection, record_id)

    def set_external_reference(
        self, tenant_id: int, collection: str, record_id: RecordId, name: str, value: str
    ) -> Wire:
        custom = tables.external_references
        with write_transaction(self.engine, tenant_id) as tx:
            key = _record_key(tx.connection, tenant_id, collection, record_id)  # 404 if missing
            holder = resolve_reference(tx.connection, tenant_id, collection, name, value)
            if holder and holder != [record_id]:
                raise Conflict(
                    reasons=[
                        f"{collection} record {holder[0]} already has {name} {value!r}; "
                        "a reference value names one record"
                    ]
                )
            tx.connection.execute(
                custom.delete().where(*_custom_key(tenant_id, collection, key, name))
            )
            tx.connection.execute(
                custom.insert().values(
                    tenant_id=tenant_id,
                    collection=collection,
                    record_id=key,
                    name=name,
                    value=value,
                    updated_at=utc_now(),
                )
            )
            return _references_of(tx.connection, tenant_id, collection, record_id)

    def delete_external_reference(
        self, tenant_id: int, collection: str, record_id: RecordId, name: str
    ) -> None:
        custom = tables.external_references
        with write_transaction(self.engine, tenant_id) as tx:
            key = _record_key(tx.connection, tenant_id, collection, record_id)  # 404 if missing
            found = custom.delete().where(*_custom_key(tenant_id, collection, key, name))
            if tx.connection.execute(found).rowcount == 0:
                raise NotFound(f"{collection} record {record_id} has no reference {name!r}")


def _record_key(
    connection: sa.Connection, tenant_id: int, collection: str, record_id: RecordId
) -> int:
    """The row key of the record the API calls ``record_id`` (404 if there is none)."""
    table = tables.REFERENCE_TABLES[collection]
    key = connection.scalar(
        sa.select(table.c.id).where(table.c.tenant_id == tenant_id, public_id(table) == record_id)
    )
    if key is None:
        raise NotFound(f"No {collection} record with id {record_id}")
    return int(key)


def _references_of(
    connection: sa.Connection, tenant_id: int, collection: str, record_id: RecordId
) -> Wire:
    table = tables.REFERENCE_TABLES[collection]
    predefined = PREDEFINED_REFERENCES[collection]
    row = connection.execute(
        sa.select(table.c.id, *(table.c[column] for column in predefined.values())).where(
            table.c.tenant_id == tenant_id, public_id(table) == record_id
        )
    ).first()
    if row is None:
        raise NotFound(f"No {collection} record with id {record_id}")
    # Predefined references are left out when the record has none (an empty code).
    references = {
        name: value for name, value in zip(predefined, row[1:], strict=True) if value is not None
    }
    custom = tables.external_references
    rows = connection.execute(
        sa.select(custom.c.name, custom.c.value)
        .where(
            custom.c.tenant_id == tenant_id,
            custom.c.collection == collection,
            custom.c.record_id == row[0],
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
