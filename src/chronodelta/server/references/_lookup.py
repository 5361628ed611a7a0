"""External references on the server: validating requests, adding them, resolving them.

* ``checked_references`` turns an ``externalReferences`` query value into pairs, or a
  400 that says what is wrong (contract: unknown collection or reference, or one the
  endpoint does not support). A custom name is known when the tenant has set it on at
  least one record of that collection.
* ``add_external_references`` adds ``"externalReferences": {name: value}`` to the
  nested objects of a batch of wire records, with one query per requested pair.
* ``resolve_reference`` finds the record a write body names by external reference.
* ``addressed_record`` finds the record a GET path names: by id, or by reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import (
    PREDEFINED_REFERENCES,
    ExternalReference,
    ExternalReferencesError,
    parse_external_references,
)
from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server.records._serialize import Wire
from chronodelta.storage import tables

custom = tables.external_references
Nested = Callable[[Wire], Iterator[dict[str, Any]]]


def _field(name: str) -> Nested:
    def found(wire: Wire) -> Iterator[dict[str, Any]]:
        value = wire.get(name)
        if isinstance(value, dict):
            yield value

    return found


def _each(name: str, inner: str | None = None) -> Nested:
    def found(wire: Wire) -> Iterator[dict[str, Any]]:
        for item in wire.get(name) or ():
            yield item[inner] if inner else item

    return found


def _itself(wire: Wire) -> Iterator[dict[str, Any]]:
    yield wire


def _itself_and(name: str) -> Nested:
    nested = _field(name)

    def found(wire: Wire) -> Iterator[dict[str, Any]]:
        yield wire
        yield from nested(wire)

    return found


# Where each endpoint's records nest objects of each collection. Activity durations
# accept shift-definitions (seed 003 lists it) but carry no shift object, so it adds
# nothing there. A reference collection's own references go on its records (and on
# the parent of an activity definition, which is one of them too).
NESTED: dict[str, dict[str, Nested]] = {
    "clockings": {
        "people": _field("person"),
        "terminals": _field("terminal"),
        "absence-definitions": _field("reason"),
        "activity-definitions": _each("activityLevels", "activityDefinition"),
    },
    "paid-presences": {"people": _field("person"), "shift-definitions": _field("shiftDefinition")},
    "calculated-totals": {
        "people": _field("person"),
        "shift-definitions": _field("shiftDefinition"),
    },
    "activity-durations": {
        "people": _field("person"),
        "activity-definitions": _each("activityLevels", "activityDefinition"),
        "absence-definitions": _field("absenceDefinition"),
        "counter-definitions": _each("counterDefinitions"),
        "shift-definitions": _field("shiftDefinition"),
    },
    "people": {"people": _itself, "shift-definitions": _field("shiftDefinition")},
    "terminals": {"terminals": _itself},
    "activity-definitions": {"activity-definitions": _itself_and("parent")},
    "absence-definitions": {"absence-definitions": _itself},
    "counter-definitions": {"counter-definitions": _itself},
    "shift-definitions": {"shift-definitions": _itself},
}


def checked_references(
    connection: sa.Connection, tenant_id: int, endpoint: str, text: str | None
) -> tuple[ExternalReference, ...]:
    """The pairs of an ``externalReferences`` value (none when absent); 400 otherwise."""
    if text is None:
        return ()
    try:
        pairs = parse_external_references(text, endpoint)
    except ExternalReferencesError as exc:
        raise BadRequest(reasons=exc.reasons) from None
    unknown = [
        f"externalReferences: unknown reference {ref.name!r} for {ref.collection} (no "
        f"{ref.collection} record has it; set custom references with PUT "
        f".../{ref.collection}/{{id}}/external-references/{ref.name})"
        for ref in pairs
        if not ref.predefined and not _custom_name_used(connection, tenant_id, ref)
    ]
    if unknown:
        raise BadRequest(reasons=unknown)
    return pairs


def _custom_name_used(connection: sa.Connection, tenant_id: int, ref: ExternalReference) -> bool:
    record_id, _value, conditions = _reference_source(tenant_id, ref.collection, ref.name)
    query = sa.select(record_id).where(*conditions).limit(1)
    return connection.execute(query).first() is not None


def add_external_references(
    connection: sa.Connection,
    tenant_id: int,
    endpoint: str,
    pairs: Sequence[ExternalReference],
    wires: Sequence[Wire],
) -> None:
    """Add the requested references to the nested objects of ``wires`` (in place)."""
    for ref in pairs:
        targets = [obj for wire in wires for obj in NESTED[endpoint][ref.collection](wire)]
        if not targets:
            continue
        values = _values(connection, tenant_id, ref, {obj["id"] for obj in targets})
        for obj in targets:
            value = values.get(obj["id"])
            if value is not None:  # a record without this custom reference: left out
                obj.setdefault("externalReferences", {})[ref.name] = value


def _values(
    connection: sa.Connection, tenant_id: int, ref: ExternalReference, ids: set[Any]
) -> dict[Any, str]:
    record_id, value, conditions = _reference_source(tenant_id, ref.collection, ref.name)
    query = sa.select(record_id, value).where(*conditions, record_id.in_(sorted(ids)))
    return {row[0]: row[1] for row in connection.execute(query)}


def resolve_reference(
    connection: sa.Connection, tenant_id: int, collection: str, name: str, value: str
) -> list[Any]:
    """The ids (as the API shows them) of the records of ``collection`` whose reference
    ``name`` is ``value``."""
    record_id, column, conditions = _reference_source(tenant_id, collection, name)
    query = sa.select(record_id).where(*conditions, column == value)
    return list(connection.scalars(query.limit(2)))


def public_id(table: sa.Table) -> sa.ColumnElement[Any]:
    """The column of the id the API shows: ``guid`` where the table has one (activity
    definitions, whose ``id`` is a surrogate key), else ``id``."""
    return table.c.guid if "guid" in table.c else table.c.id


# An integer id as a path shows it; anything else names no record by id (404).
_INTEGER_ID = re.compile(r"[1-9][0-9]{0,18}")
_MAX_ID = 2**63 - 1
# No stored value or id holds these (server/_models.py refuses them in writes), and
# PostgreSQL cannot even compare a NUL: such a path names no record.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def addressed_record(
    connection: sa.Connection,
    tenant_id: int,
    collection: str,
    value: str,
    pairs: Sequence[ExternalReference],
) -> Any:
    """The id of the record ``GET .../{collection}/{value}`` names; 404 if none.

    Contract, "Addressing by reference": with a pair of the collection's own in
    ``externalReferences`` (the first, if several), ``value`` is that reference's
    value (``/people/6767676?externalReferences=(people,@badge-number)``); without,
    it is the record's id. More than one record with the value is a 400: the vendor
    requires a reference to be unique within its collection.
    """
    own = next((ref for ref in pairs if ref.collection == collection), None)
    if own is None:
        record_id = _path_id(tables.REFERENCE_TABLES[collection], value)
        if record_id is None:
            raise NotFound(f"No {collection} record with id {value!r}")
        return record_id
    ids = (
        []
        if _UNSTORABLE.search(value)
        else resolve_reference(connection, tenant_id, collection, own.name, value)
    )
    if not ids:
        raise NotFound(f"No {collection} record has {own.name} {value!r}")
    if len(ids) > 1:
        raise BadRequest(
            reasons=[
                f"More than one {collection} record has {own.name} {value!r}; a reference "
                "that addresses a record must be unique within its collection"
            ]
        )
    return ids[0]


def _path_id(table: sa.Table, value: str) -> Any:
    """An id from a path: an integer for integer keys; text as it is for others."""
    if not isinstance(table.c.id.type, sa.Integer):
        return None if _UNSTORABLE.search(value) else value
    if not _INTEGER_ID.fullmatch(value) or int(value) > _MAX_ID:
        return None
    return int(value)


def _reference_source(
    tenant_id: int, collection: str, name: str
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any], list[sa.ColumnElement[bool]]]:
    """Where a reference's values live: (record id column, value column, conditions).

    A predefined one is a column of the record's table; a custom one, rows of
    ``external_references`` for the collection and name (keyed by the surrogate id
    where the API shows a GUID, so joined to the record's table for it).
    """
    table = tables.REFERENCE_TABLES[collection]
    if name.startswith("@"):
        column = table.c[PREDEFINED_REFERENCES[collection][name]]
        return public_id(table), column, [table.c.tenant_id == tenant_id]
    conditions = [
        custom.c.tenant_id == tenant_id,
        custom.c.collection == collection,
        custom.c.name == name,
    ]
    if "guid" not in table.c:
        return custom.c.record_id, custom.c.value, conditions
    joined = [table.c.tenant_id == custom.c.tenant_id, table.c.id == custom.c.record_id]
    return table.c.guid, custom.c.value, [*conditions, *joined]
