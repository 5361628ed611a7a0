"""Activity definition rows to wire dicts, in the vendor's fields (contract, "Fidelity").

``{"id", "structureVersion", "level", "changeVersion", "name": {"default",
"translations"}, "parent"?: {"id"}, "shortCode"?, "dataEntryCode"?,
"externalReference"?, "info"?, "activeFrom"?, "activeUntil"?}``; ids are GUIDs, and
optional fields are left out when empty, as everywhere in this API. The counters a
definition feeds are the calculation's business and not served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from chronodelta.server.records._serialize import WireField, wire_field
from chronodelta.storage import tables

Wire = dict[str, Any]


# The vendor's localized name ("name.default", "name.translations" by language code).
# Kept small and beside its first user so that other collections can take it up.
def localized_name(default: str, translations: str | None) -> Wire:
    """``{"default", "translations"}`` from the default name and the stored JSON text."""
    return {"default": default, "translations": orjson.loads(translations) if translations else {}}


def dump_translations(translations: Mapping[str, str]) -> str | None:
    """The stored JSON text of a name's translations (null when there are none)."""
    return orjson.dumps(dict(sorted(translations.items()))).decode() if translations else None


_d = tables.activity_definitions.c
ACTIVITY_DEFINITION_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    _d.change_version, _d.guid, _d.structure_version, _d.level, _d.name, _d.name_translations,
    _d.parent_guid, _d.short_code, _d.data_entry_code, _d.external_reference, _d.info,
    _d.active_from, _d.active_until,
)  # fmt: skip
_OPTIONAL = ("shortCode", "dataEntryCode", "externalReference", "info", "activeFrom", "activeUntil")


# For the page serializers (records/_compiled.py): the same fields as the function below.
ACTIVITY_DEFINITION_FIELDS = (
    wire_field("id", "guid"),
    wire_field("structureVersion", "structure_version"),
    wire_field("level", "level"),
    wire_field("changeVersion", "change_version", "version"),
    WireField("name", ("name", "name_translations"), "name"),
    wire_field("parent", "parent_guid", "ref"),
    wire_field("shortCode", "short_code"),
    wire_field("dataEntryCode", "data_entry_code"),
    wire_field("externalReference", "external_reference"),
    wire_field("info", "info"),
    wire_field("activeFrom", "active_from"),
    wire_field("activeUntil", "active_until"),
)


def activity_definition_to_wire(row: Sequence[Any]) -> Wire:
    wire: Wire = {
        "id": row[1],
        "structureVersion": row[2],
        "level": row[3],
        "changeVersion": f"{row[0]:020X}",
        "name": localized_name(row[4], row[5]),
    }
    if row[6] is not None:
        wire["parent"] = {"id": row[6]}
    for name, value in zip(_OPTIONAL, row[7:], strict=True):
        if value is not None:
            wire[name] = value
    return wire
