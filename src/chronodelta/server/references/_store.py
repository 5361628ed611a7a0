"""The custom external-reference store, and resolving references named in write bodies.

Contract, "External references": predefined references (``@...``) are fields of the
records; custom ones are key-value pairs set by the integrator (scope
external-references.write), and a value names one record per collection and name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import PREDEFINED_REFERENCES, ExternalReference
from chronodelta.server._clock import utc_now
from chronodelta.server._errors import BadRequest, Conflict, NotFound
from chronodelta.server.records._serialize import Wire
from chronodelta.server.references._lookup import checked_references, resolve_reference
from chronodelta.storage import read_transaction, tables, write_transaction


@dataclass(frozen=True, slots=True)
class ReferenceLookup:
    """A write-body field that names its record by external reference."""

    field: str
    collection: str
    name: str
    value: str


def resolve_lookups(
    connection: sa.Connection, tenant_id: int, wanted: Sequence[ReferenceLookup]
) -> dict[str, int]:
    """The ids that write-body fields name by external reference (400 if not one).

    Runs inside the write that uses the ids, so a reference cannot move between the
    lookup and the write.
    """
    found, problems = {}, []
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
