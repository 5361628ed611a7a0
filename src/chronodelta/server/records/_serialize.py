"""Rows to wire dicts, in the vendor's field names and order (seed 004, step 3).

Optional fields are left out rather than sent as null, as the vendor does
("originalTimeOfDayInMinutes: only present if the clocking has been edited").
These run once per record on every page, so they index rows by position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa

from chronodelta.domain import ActivityLevel
from chronodelta.storage import tables

Wire = dict[str, Any]


class WireField(NamedTuple):
    """One wire field, for the page serializers compiled from these tables (``_compiled.py``).

    ``columns`` are the table columns it is made of, ``kind`` how (``_compiled.KINDS``).
    A field is left out when one of its columns is null, as the functions below do.
    The tables list the fields in wire order, beside the per-record function they match
    (``tests/server/records/test_compiled.py`` checks that both write the same JSON).
    """

    name: str
    columns: tuple[str, ...]
    kind: str = "plain"


def wire_field(name: str, column: str, kind: str = "plain") -> WireField:
    return WireField(name, (column,), kind)


# Activity levels (of clockings and activity durations) are stored as the JSON text
# ``[[level, "activity definition GUID"], ...]`` (seed 003: the id is a string), null
# when there are none. These three are the only code that knows it (and migration 0004,
# which converted the integer ids of older versions).
def dump_activity_levels(levels: Sequence[ActivityLevel]) -> str | None:
    if not levels:
        return None
    return orjson.dumps([[lv.level, lv.activity_definition_id] for lv in levels]).decode()


def parse_activity_levels(text: str | None) -> tuple[ActivityLevel, ...]:
    if not text:
        return ()
    return tuple(ActivityLevel(level, definition) for level, definition in orjson.loads(text))


def activity_levels_to_wire(text: str) -> list[Wire]:
    return [
        {"level": level, "activityDefinition": {"id": definition}}
        for level, definition in orjson.loads(text)
    ]


c = tables.clockings.c
CLOCKING_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    c.change_version, c.id, c.calculated_time_of_day, c.is_generated, c.status,
    c.person_id, c.date, c.time_of_day, c.kind, c.original_time_of_day,
    c.terminal_id, c.longitude, c.latitude, c.reason_id, c.is_open, c.activity_levels,
)  # fmt: skip


CLOCKING_FIELDS = (
    wire_field("changeVersion", "change_version", "version"),
    wire_field("id", "id"),
    wire_field("calculatedTimeOfDayInMinutes", "calculated_time_of_day"),
    wire_field("isGenerated", "is_generated"),
    wire_field("status", "status"),
    wire_field("person", "person_id", "ref"),
    wire_field("date", "date"),
    wire_field("timeOfDayInMinutes", "time_of_day"),
    wire_field("kind", "kind"),
    wire_field("originalTimeOfDayInMinutes", "original_time_of_day"),
    wire_field("terminal", "terminal_id", "ref"),
    WireField("geolocation", ("longitude", "latitude"), "geolocation"),
    wire_field("reason", "reason_id", "ref"),
    wire_field("isOpen", "is_open"),
    wire_field("activityLevels", "activity_levels", "activity-levels"),
)


def clocking_to_wire(row: Sequence[Any]) -> Wire:
    wire: Wire = {
        "changeVersion": f"{row[0]:020X}",
        "id": row[1],
        "calculatedTimeOfDayInMinutes": row[2],
        "isGenerated": bool(row[3]),
        "status": row[4],
        "person": {"id": row[5]},
        "date": row[6],
        "timeOfDayInMinutes": row[7],
        "kind": row[8],
    }
    if row[9] is not None:
        wire["originalTimeOfDayInMinutes"] = row[9]
    if row[10] is not None:
        wire["terminal"] = {"id": row[10]}
    if row[11] is not None and row[12] is not None:
        wire["geolocation"] = {"longitude": row[11], "latitude": row[12]}
    if row[13] is not None:
        wire["reason"] = {"id": row[13]}
    if row[14] is not None:
        wire["isOpen"] = bool(row[14])
    if row[15] is not None:
        wire["activityLevels"] = activity_levels_to_wire(row[15])
    return wire


# Reference collections: (wire name, column, kind) in output order. Kind "ref" wraps
# the value as {"id": ...}; "localized" is the vendor's translatable text, {"default":
# <column>, "translations": <column>_translations} (a JSON object); "json" is JSON
# text. Optional columns are left out when null. Contract, "Fidelity" -> "Reference
# collections", for the fields; the shift's times and the person's shift are ours.
# Activity definitions have GUID ids and a shape of their own (``server/activities/_wire.py``).
_Field = tuple[str, str, str]
REFERENCE_FIELDS: dict[str, tuple[_Field, ...]] = {
    "people": (
        ("lastName", "last_name", "plain"),
        ("firstName", "first_name", "plain"),
        ("initials", "initials", "plain"),
        ("telephone", "telephone", "plain"),
        ("mobile", "mobile", "plain"),
        ("email", "email", "plain"),
        ("address", "address", "plain"),
        ("postalCode", "postal_code", "plain"),
        ("town", "town", "plain"),
        ("countryISOCode", "country_iso_code", "plain"),
        ("nationalityISOCode", "nationality_iso_code", "plain"),
        ("sex", "sex", "plain"),
        ("birthDate", "birth_date", "plain"),
        ("inServiceDate", "in_service_date", "plain"),
        ("outOfServiceDate", "out_of_service_date", "plain"),
        ("employeeNumber", "employee_number", "plain"),
        ("payGroup", "pay_group", "plain"),
        ("terminalGroup", "terminal_group_id", "ref"),
        ("badgeNumber", "badge_number", "plain"),
        ("shiftDefinition", "shift_definition_id", "ref"),
    ),
    "terminals": (
        ("name", "name", "localized"),
        ("externalCode", "external_code", "plain"),
        ("isEnabled", "is_enabled", "plain"),
    ),
    "absence-definitions": (
        ("name", "name", "localized"),
        ("code", "absence_code", "plain"),
        ("friendlyName", "friendly_name", "localized"),
        ("friendlyCode", "friendly_code", "localized"),
        ("allowedDurations", "allowed_durations", "json"),
        ("isEnabled", "is_enabled", "plain"),
        ("isReasonForClocking", "is_reason_for_clocking", "plain"),
        ("absenceGroup", "absence_group_id", "ref"),
    ),
    "counter-definitions": (
        ("name", "name", "localized"),
        ("code", "counter_code", "plain"),
        ("friendlyName", "friendly_name", "localized"),
        ("friendlyCode", "friendly_code", "localized"),
        ("isEnabled", "is_enabled", "plain"),
        ("counterGroup", "counter_group_id", "ref"),
        ("unit", "unit", "plain"),
    ),
    "shift-definitions": (
        ("name", "name", "localized"),
        ("code", "shift_code", "plain"),
        ("friendlyName", "friendly_name", "localized"),
        ("isEnabled", "is_enabled", "plain"),
        ("startTimeInMinutes", "start_minutes", "plain"),
        ("endTimeInMinutes", "end_minutes", "plain"),
        ("breakInMinutes", "break_minutes", "plain"),
    ),
}


def _field_columns(field: _Field) -> tuple[str, ...]:
    _name, column, kind = field
    return (column, f"{column}_translations") if kind == "localized" else (column,)


def reference_columns(collection: str) -> tuple[sa.ColumnElement[Any], ...]:
    table = tables.REFERENCE_TABLES[collection]
    fields = REFERENCE_FIELDS[collection]
    columns = [table.c[column] for field in fields for column in _field_columns(field)]
    return (table.c.change_version, table.c.id, *columns)


def reference_fields(collection: str) -> tuple[WireField, ...]:
    """``REFERENCE_FIELDS`` of ``collection`` as the page serializers take them."""
    fields = [
        WireField(name, _field_columns((name, column, kind)), kind)
        for name, column, kind in REFERENCE_FIELDS[collection]
    ]
    return (wire_field("changeVersion", "change_version", "version"), wire_field("id", "id"),
            *fields)  # fmt: skip


def reference_serializer(collection: str) -> Callable[[Sequence[Any]], Wire]:
    fields = tuple((name, kind) for name, _column, kind in REFERENCE_FIELDS[collection])

    def to_wire(row: Sequence[Any]) -> Wire:
        wire: Wire = {"changeVersion": f"{row[0]:020X}", "id": row[1]}
        at = 2
        for name, kind in fields:
            value = row[at]
            at += 2 if kind == "localized" else 1
            if value is None:
                continue
            if kind == "ref":
                wire[name] = {"id": value}
            elif kind == "localized":
                wire[name] = {"default": value, "translations": orjson.loads(row[at - 1])}
            elif kind == "json":
                wire[name] = orjson.loads(value)
            else:
                wire[name] = value
        return wire

    return to_wire


# ---- calculated totals (seeds 002 and 003, in their field order) ----------------------

p = tables.paid_presences.c
PAID_PRESENCE_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    p.change_version, p.id, p.person_id, p.date, p.duration_minutes, p.shift_definition_id,
)  # fmt: skip


PAID_PRESENCE_FIELDS = (
    wire_field("changeVersion", "change_version", "version"),
    wire_field("id", "id"),
    wire_field("person", "person_id", "ref"),
    wire_field("date", "date"),
    wire_field("durationInMinutes", "duration_minutes"),
    wire_field("shiftDefinition", "shift_definition_id", "ref"),
)


def paid_presence_to_wire(row: Sequence[Any]) -> Wire:
    wire: Wire = {
        "changeVersion": f"{row[0]:020X}",
        "id": row[1],
        "person": {"id": row[2]},
        "date": row[3],
        "durationInMinutes": row[4],
    }
    if row[5] is not None:
        wire["shiftDefinition"] = {"id": row[5]}
    return wire


a = tables.activity_durations.c
ACTIVITY_DURATION_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    a.change_version, a.id, a.person_id, a.date, a.duration_minutes, a.activity_levels,
    a.absence_definition_id, a.counter_definition_ids, a.status, a.is_authorized,
)  # fmt: skip


ACTIVITY_DURATION_FIELDS = (
    wire_field("changeVersion", "change_version", "version"),
    wire_field("id", "id"),
    wire_field("person", "person_id", "ref"),
    wire_field("date", "date"),
    wire_field("durationInMinutes", "duration_minutes"),
    wire_field("activityLevels", "activity_levels", "activity-levels"),
    wire_field("absenceDefinition", "absence_definition_id", "ref"),
    wire_field("counterDefinitions", "counter_definition_ids", "ref-list"),
    wire_field("status", "status"),
    wire_field("isAuthorized", "is_authorized"),
)


def activity_duration_to_wire(row: Sequence[Any]) -> Wire:
    """``request.id`` is never present: this server has no requests (docs/calculation.md)."""
    wire: Wire = {
        "changeVersion": f"{row[0]:020X}",
        "id": row[1],
        "person": {"id": row[2]},
        "date": row[3],
        "durationInMinutes": row[4],
    }
    if row[5] is not None:
        wire["activityLevels"] = activity_levels_to_wire(row[5])
    if row[6] is not None:
        wire["absenceDefinition"] = {"id": row[6]}
    if row[7] is not None:
        wire["counterDefinitions"] = [{"id": counter} for counter in orjson.loads(row[7])]
    wire["status"] = row[8]
    wire["isAuthorized"] = bool(row[9])
    return wire


t = tables.calculated_totals.c
CALCULATED_TOTAL_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    t.change_version, t.id, t.person_id, t.date, t.normal_time_minutes,
    t.time_present_minutes, t.calculated_presence_minutes, t.weekly_hours_1_minutes,
    t.weekly_hours_2_minutes, t.weekly_hours_3_minutes, t.pay_period_hours_minutes,
    t.flextime_minutes, t.flextime_balance_minutes, t.shift_definition_id,
)  # fmt: skip
# The contract's field order ("Fidelity", calculated-totals), after person and date.
_CALCULATED_FIELDS = (
    "normalTimeDurationInMinutes",
    "timePresentDurationInMinutes",
    "calculatedPresenceDurationInMinutes",
    "weeklyHours1DurationInMinutes",
    "weeklyHours2DurationInMinutes",
    "weeklyHours3DurationInMinutes",
    "payPeriodHoursDurationInMinutes",
    "flextimeDurationInMinutes",
    "flextimeBalanceInMinutes",
)


CALCULATED_TOTAL_FIELDS = (
    wire_field("changeVersion", "change_version", "version"),
    wire_field("id", "id"),
    wire_field("person", "person_id", "ref"),
    wire_field("date", "date"),
    *(wire_field(name, column.name) for name, column in zip(
        _CALCULATED_FIELDS, CALCULATED_TOTAL_COLUMNS[4:13], strict=True
    )),
    wire_field("shiftDefinition", "shift_definition_id", "ref"),
)  # fmt: skip


def calculated_total_to_wire(row: Sequence[Any]) -> Wire:
    wire: Wire = {
        "changeVersion": f"{row[0]:020X}",
        "id": row[1],
        "person": {"id": row[2]},
        "date": row[3],
    }
    wire.update(zip(_CALCULATED_FIELDS, row[4:13], strict=True))
    if row[13] is not None:
        wire["shiftDefinition"] = {"id": row[13]}
    return wire
