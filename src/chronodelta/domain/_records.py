"""The records of the Protime Connector API, as plain values shared by every part.

These are the domain's own types: the server stores and serves them, the demo-data
generator produces them, and (later) the client and the sync mirror parse into them.
Field names follow Python style; the wire names (camelCase, nested ``{"id": ...}``
objects) are the serializers' business, see ``server/_serialize.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Contract, "Collections and fields": a clocking's time of day is minutes since
# midnight of its date, from -1440 (the day before) to 2880 (the day after), so
# that a night shift's out-clocking can stay on the date the shift started.
MIN_TIME_OF_DAY = -1440
MAX_TIME_OF_DAY = 2880


class ClockingKind(StrEnum):
    IN_OUT = "InOut"
    REASON = "Reason"
    ACTIVITY = "Activity"
    ACTIVITY_END = "ActivityEnd"


class ClockingStatus(StrEnum):
    UNKNOWN = "Unknown"
    ACTIVE = "Active"
    DELETED = "Deleted"


# Translations of a text by language code, e.g. {"fr": "Maladie", "nl": "Ziekte"}; the
# wire shows them as {"default": ..., "translations": {...}}.
Translations = Mapping[str, str]


class Sex(StrEnum):
    """The vendor's people page: "Sex of the person (Unknown, Female, Male, Other)"."""

    UNKNOWN = "Unknown"
    FEMALE = "Female"
    MALE = "Male"
    OTHER = "Other"


class AllowedDuration(StrEnum):
    """How an absence may be registered (the vendor's absence definitions page)."""

    UNKNOWN = "Unknown"
    FULL_DAY = "FullDay"
    HALF_DAY = "HalfDay"
    INTERVAL = "Interval"
    DURATION = "Duration"


class CounterUnit(StrEnum):
    """What a counter counts (the vendor's counter definitions page)."""

    UNKNOWN = "Unknown"
    INTERVAL = "Interval"
    DURATION = "Duration"
    INSTANCE = "Instance"


@dataclass(frozen=True, slots=True)
class Person:
    """A person: the vendor's personal information fields, and the shift the
    calculation plans their day with (``shift_definition_id``, our extension)."""

    id: int
    badge_number: str
    employee_number: str
    first_name: str
    last_name: str
    in_service_date: dt.date
    out_of_service_date: dt.date | None
    shift_definition_id: int | None
    initials: str | None = None
    telephone: str | None = None
    mobile: str | None = None
    email: str | None = None
    address: str | None = None
    postal_code: str | None = None
    town: str | None = None
    country_iso_code: str | None = None
    nationality_iso_code: str | None = None
    sex: Sex = Sex.UNKNOWN
    birth_date: dt.date | None = None
    pay_group: str | None = None
    terminal_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class Terminal:
    id: int
    name: str
    external_code: str
    name_translations: Translations = field(default_factory=dict)
    is_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ActivityDefinition:
    """One node of the activity structure; ``level`` 1 is the top (a project, say).

    The vendor's fields ("Fidelity" in the contract; its activity-definition pages):
    ``id`` and ``structure_version`` are GUIDs, ``parent_id`` the GUID of the
    definition one level up (same structure version), ``name`` the default name and
    ``name_translations`` the names by language code. ``data_entry_code`` and
    ``external_reference`` have at most 16 characters; the external reference is
    unique within its structure version and level. ``active_from`` and
    ``active_until`` bound the dates a clocking may book it on.
    """

    id: str
    name: str
    level: int
    parent_id: str | None
    data_entry_code: str | None
    external_reference: str | None
    structure_version: str
    short_code: str | None = None
    info: str | None = None
    active_from: dt.date | None = None
    active_until: dt.date | None = None
    name_translations: Mapping[str, str] = field(default_factory=dict)
    # Counters that time booked on this activity feeds (docs/calculation.md): not a
    # vendor field, the calculation's.
    counter_definition_ids: tuple[int, ...] = ()


# The vendor's limits on an activity definition's codes (contract, "Fidelity").
ACTIVITY_CODE_MAX = 16


@dataclass(frozen=True, slots=True)
class AbsenceDefinition:
    """An absence or reason code; a Reason clocking's ``reason.id`` points here."""

    id: int
    name: str
    absence_code: str
    counter_definition_ids: tuple[int, ...] = ()
    name_translations: Translations = field(default_factory=dict)
    friendly_name: str | None = None
    friendly_name_translations: Translations = field(default_factory=dict)
    friendly_code: str | None = None
    friendly_code_translations: Translations = field(default_factory=dict)
    allowed_durations: tuple[AllowedDuration, ...] = ()
    is_enabled: bool = True
    is_reason_for_clocking: bool = True
    absence_group_id: int | None = None


@dataclass(frozen=True, slots=True)
class CounterDefinition:
    id: int
    name: str
    counter_code: str
    name_translations: Translations = field(default_factory=dict)
    friendly_name: str | None = None
    friendly_name_translations: Translations = field(default_factory=dict)
    friendly_code: str | None = None
    friendly_code_translations: Translations = field(default_factory=dict)
    is_enabled: bool = True
    counter_group_id: int | None = None
    unit: CounterUnit = CounterUnit.UNKNOWN


@dataclass(frozen=True, slots=True)
class ShiftDefinition:
    """A shift's planned start, end and unpaid break, in minutes (end may pass 1440);
    those three are ours (the calculation needs them), the rest the vendor's."""

    id: int
    name: str
    shift_code: str
    start_minutes: int
    end_minutes: int
    break_minutes: int
    name_translations: Translations = field(default_factory=dict)
    friendly_name: str | None = None
    friendly_name_translations: Translations = field(default_factory=dict)
    is_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ActivityLevel:
    """One level of a clocking's activity path: the GUID of its activity definition."""

    level: int
    activity_definition_id: str


@dataclass(frozen=True, slots=True)
class ClockingDraft:
    """A clocking's writable state plus the fields only the system sets.

    ``original_time_of_day`` is set only when the clocking was edited after it was
    registered (contract: "Only present if the clocking has been edited").
    """

    person_id: int
    date: dt.date
    time_of_day: int
    kind: ClockingKind
    terminal_id: int | None = None
    longitude: float | None = None
    latitude: float | None = None
    reason_id: int | None = None
    is_open: bool | None = None
    activity_levels: tuple[ActivityLevel, ...] = field(default_factory=tuple)
    original_time_of_day: int | None = None
    is_generated: bool = False
    status: ClockingStatus = ClockingStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """The definition collections and people of one tenant, as the seeder makes them."""

    people: tuple[Person, ...]
    terminals: tuple[Terminal, ...]
    activity_definitions: tuple[ActivityDefinition, ...]
    absence_definitions: tuple[AbsenceDefinition, ...]
    counter_definitions: tuple[CounterDefinition, ...]
    shift_definitions: tuple[ShiftDefinition, ...]
