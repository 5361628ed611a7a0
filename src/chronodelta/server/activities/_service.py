"""Reading activity definitions: the whole collection, or one structure version's level.

Contract, "Fidelity": activity definitions have GUID ids and live at
``/activity-structure-versions/{structureVersionId}/levels/{level}/activity-definitions
[/{ref}]`` as well as at ``/activity-definitions``. The vendor's pages give no list of
structure versions; here a structure version exists when a definition of the tenant
names it, and its levels are 1 to the deepest level of its definitions. An unknown
version, or a level past its deepest, is a 404; a malformed one a 400 (the routes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import ACTIVITY_CODE_MAX, ACTIVITY_DEFINITIONS, API_PREFIX, is_guid
from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server.activities._wire import Wire
from chronodelta.server.records._tracked import TRACKED, Page, read_page
from chronodelta.server.references._lookup import (
    add_external_references,
    addressed_record,
    checked_references,
)
from chronodelta.storage import read_transaction, tables

definitions = tables.activity_definitions
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # PostgreSQL cannot even compare a NUL
STRUCTURE_VERSIONS_PATH = f"{API_PREFIX}/activity-structure-versions"


@dataclass(frozen=True, slots=True)
class StructureLevel:
    """One level of one activity structure version (a canonical GUID and 1..10)."""

    version: str
    level: int

    @property
    def path(self) -> str:
        """The list path of this level's definitions."""
        return (
            f"{STRUCTURE_VERSIONS_PATH}/{self.version}/levels/{self.level}/"
            f"{ACTIVITY_DEFINITIONS.name}"
        )

    @property
    def canonical(self) -> str:
        """What this level's page tokens are bound to (as a list's filter is)."""
        return f"structureVersion eq '{self.version}' and level eq {self.level}"

    def conditions(self) -> tuple[sa.ColumnElement[bool], ...]:
        return (
            definitions.c.structure_version == self.version,
            definitions.c.level == self.level,
        )


class ActivityDefinitionService:
    """The reads of activity definitions, one read transaction each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list_page(
        self,
        tenant_id: int,
        after: Sequence[Any] | None,
        limit: int,
        structure: StructureLevel | None = None,
        references: str | None = None,
    ) -> Page:
        """A page of the tenant's definitions (of one structure level, if given), with
        the ``externalReferences`` asked for (contract, "Addressing by reference":
        reference collections accept them for their own and related collections)."""
        with read_transaction(self.engine, snapshot=True) as connection:
            pairs = checked_references(connection, tenant_id, _NAME, references)
            where: tuple[sa.ColumnElement[bool], ...] = ()
            if structure is not None:
                _check_structure(connection, tenant_id, structure)
                where = structure.conditions()
            tracked = TRACKED[_NAME]
            page = read_page(connection, tracked, tenant_id, None, after, limit, where=where)
            add_external_references(connection, tenant_id, _NAME, pairs, page.records)
            return page

    def get(self, tenant_id: int, value: str, references: str | None = None) -> Wire:
        """``/activity-definitions/{value}``: by GUID, or (issue 11, item 7) by the value
        of the collection's own reference in ``references``, as the other reference
        collections are addressed. A value that is no GUID names no definition by id:
        404, as a non-integer id of the other reference collections."""
        with read_transaction(self.engine, snapshot=True) as connection:
            pairs = checked_references(connection, tenant_id, _NAME, references)
            if any(pair.collection == _NAME for pair in pairs):
                guid = str(addressed_record(connection, tenant_id, _NAME, value, pairs))
            elif is_guid(value):
                guid = value.lower()
            else:
                raise NotFound(f"No activity definition {value!r} (ids are GUIDs)")
            record = _one(connection, tenant_id, definitions.c.guid == guid, value)
            add_external_references(connection, tenant_id, _NAME, pairs, [record])
        return record

    def get_in_structure(
        self,
        tenant_id: int,
        structure: StructureLevel,
        reference: str,
        references: str | None = None,
    ) -> Wire:
        """``.../levels/{level}/activity-definitions/{ref}``: the vendor's "internal ID
        (GUID) or an external reference" (unique within the level)."""
        if _CONTROL.search(reference):
            raise BadRequest(reasons=["activityDefinitionReference: contains a control character"])
        if is_guid(reference):
            match = definitions.c.guid == reference.lower()
        elif len(reference) <= ACTIVITY_CODE_MAX:
            match = definitions.c.external_reference == reference
        else:
            match = sa.false()  # longer than any external reference can be
        with read_transaction(self.engine, snapshot=True) as connection:
            pairs = checked_references(connection, tenant_id, _NAME, references)
            _check_structure(connection, tenant_id, structure)
            record = _one(connection, tenant_id, sa.and_(match, *structure.conditions()), reference)
            add_external_references(connection, tenant_id, _NAME, pairs, [record])
        return record


_NAME = ACTIVITY_DEFINITIONS.name


def _one(
    connection: sa.Connection, tenant_id: int, match: sa.ColumnElement[bool], shown: str
) -> Wire:
    tracked = TRACKED[ACTIVITY_DEFINITIONS.name]
    row = connection.execute(
        sa.select(*tracked.columns).where(definitions.c.tenant_id == tenant_id, match)
    ).first()
    if row is None:
        raise NotFound(f"No activity definition {shown}")
    return tracked.to_wire(row)


def _check_structure(connection: sa.Connection, tenant_id: int, structure: StructureLevel) -> None:
    """404 unless the tenant has this structure version, with this level."""
    deepest = connection.scalar(
        sa.select(sa.func.max(definitions.c.level)).where(
            definitions.c.tenant_id == tenant_id,
            definitions.c.structure_version == structure.version,
        )
    )
    if deepest is None:
        raise NotFound(f"No activity structure version {structure.version}")
    if structure.level > deepest:
        raise NotFound(
            f"Activity structure version {structure.version} has no level {structure.level} "
            f"(its levels are 1 to {deepest})"
        )
