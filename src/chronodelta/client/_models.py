"""Typed records of every collection, in the contract's wire fields.

Why plain slotted dataclasses, built from the decoded JSON dicts by a parser each model
derives from its fields (``_FromWire``) and compiles to straight-line code: the sync
mirror parses a million records in its initial snapshot, so the parse must cost little
next to decoding the JSON. Measured per clocking on the development machine (CPython
3.11): orjson decodes one in 1.5 µs; ``Clocking.from_wire`` takes 3.6 µs as a slotted
dataclass, 8.0 µs as a *frozen* one (a frozen ``__init__`` sets every field through
``object.__setattr__``), and an equivalent pydantic model validates it in 8.9 µs. The
server has already validated what it sends, so the client needs the shape, not a
second validation. So the per-record types (records, ``Ref``, ``ActivityLevel``,
``Geolocation``, and ``Change``) are ``@dataclass(slots=True)``: read-only by
convention, not enforced; types that exist a few at a time (``ClockingInput``,
``CreatedClocking``, ``Page``, ``DeltaChanges``) are frozen.

Conventions, the same for every model:

* Field names are the wire names in snake case; a nested reference
  ``"person": {"id": 1, "externalReferences": {"@badge-number": "6767676"}}`` becomes
  ``person: Ref`` with ``external_references`` kept (``None`` when not requested).
* ``raw`` is the record's decoded JSON exactly as received (the mirror stores it). It
  takes no part in ``==`` or ``repr``. Do not mutate it (the models share its
  nested dicts).
* The contract marks no field as required, so a model requires only what a record
  cannot do without: ``id``; ``changeVersion`` on the three delta collections (seed
  000: "each object in a delta response includes a changeVersion string"; seed 003's
  field table omits it for activity durations, but its delta cannot work without it);
  and the fields every example in the vendor's pages shows (a clocking's person,
  date, time and kind). Every other field is ``None`` (or an
  empty tuple) when absent, as the vendor leaves optional fields out. A record that
  lacks a required field raises ``InvalidResponse``.
* ``kind`` and ``status`` stay ``str`` (``ClockingKind`` and ``ClockingStatus`` from
  ``chronodelta.domain`` compare equal to them), so that a value the vendor adds
  later does not break a running sync.
* Seed 003 types ``activityDefinition.id`` and an activity duration's ``request.id``
  as string: activity definitions are identified by GUIDs (the vendor's pages), every
  other id is an integer. ``Ref`` is generic in its id type so the models can say so
  without converting anything.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

IdT = TypeVar("IdT")
Wire = dict[str, Any]


@dataclass(slots=True)
class Ref(Generic[IdT]):
    """A nested reference ``{"id": ..., "externalReferences"?: {...}}``."""

    id: IdT
    external_references: dict[str, str] | None = None


@dataclass(slots=True)
class ActivityLevel(Generic[IdT]):
    """``{"level": 1, "activityDefinition": {"id": ...}}``."""

    level: int
    activity_definition: Ref[IdT]


@dataclass(slots=True)
class Geolocation:
    longitude: float
    latitude: float


class _FromWire:
    """A record type whose ``from_wire`` is derived from its own fields, once.

    Each field is read from its wire name (the field name in camel case, or its
    ``metadata["wire"]``) and converted by its type: ``dt.date`` from ISO text, ``Ref``,
    ``LocalizedText``, ``Geolocation`` and tuples of these from their JSON; anything
    else is taken as decoded. A field without a default whose type is not optional is
    required (``raw[key]``: a record without it raises ``KeyError``, which the client
    turns into ``InvalidResponse``); ``raw`` is the record itself. So adding a field to
    a model is one line, and every model parses by the same rules.
    """

    __slots__ = ()

    @classmethod
    def from_wire(cls, raw: Wire) -> Self:
        parse = _PARSERS.get(cls) or _compile_parser(cls)
        return parse(raw)  # type: ignore[no-any-return]


_PARSERS: dict[type, Callable[[Wire], Any]] = {}


def _compile_parser(cls: type) -> Callable[[Wire], Any]:
    """``cls``'s parser as straight-line code, as ``dataclasses`` writes ``__init__``.

    Generated rather than a loop over the fields: a loop made ``Clocking.from_wire``
    1.5x and ``Person.from_wire`` 2x slower (1.8 to 2.7 µs and 1.2 to 2.4 µs), and
    the sync's snapshot parses a million records.
    """
    hints = typing.get_type_hints(cls)
    namespace: dict[str, Any] = {"cls": cls}
    arguments = []
    for index, item in enumerate(dataclasses.fields(cls)):
        if item.name == "raw":
            continue
        key = item.metadata.get("wire") or _camel(item.name)
        optional = type(None) in typing.get_args(hints[item.name])
        required = not optional and item.default is dataclasses.MISSING
        required = required and item.default_factory is dataclasses.MISSING
        value = f"raw[{key!r}]" if required else f"get({key!r})"
        convert = _converter(hints[item.name], optional)
        if convert is not None:
            namespace[f"convert_{index}"] = convert
            value = (
                f"(None if (v := {value}) is None else convert_{index}(v))"
                if optional
                else f"convert_{index}({value})"
            )
        arguments.append(value)
    source = f"def parse(raw):\n    get = raw.get\n    return cls({', '.join(arguments)}, raw)\n"
    exec(source, namespace)  # the source holds only field names and wire keys
    _PARSERS[cls] = parser = namespace["parse"]
    return parser  # type: ignore[no-any-return]


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _converter(hint: Any, optional: bool) -> Callable[[Any], Any] | None:
    """How a decoded JSON value other than null becomes a field of type ``hint``
    (None: taken as it is)."""
    if optional:
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    origin = typing.get_origin(hint) or hint
    if origin is tuple:
        item = typing.get_origin(typing.get_args(hint)[0]) or typing.get_args(hint)[0]
        if item is ActivityLevel:
            return _levels
        if item is Ref:
            return lambda values: tuple(_req_ref(v) for v in values) if values else ()
        return lambda values: tuple(values or ())
    return _CONVERTERS.get(origin)  # the parser keeps an optional field's None


def _req_ref(value: Any) -> Ref[Any]:
    return Ref(value["id"], value.get("externalReferences"))


def _levels(value: Any) -> tuple[ActivityLevel[Any], ...]:
    if not value:
        return ()
    return tuple(
        ActivityLevel(item["level"], _req_ref(item["activityDefinition"])) for item in value
    )


@dataclass(slots=True)
class Clocking(_FromWire):
    """A clocking (seed 001; seed 004 steps 3-5)."""

    change_version: str
    id: int
    person: Ref[int]
    date: dt.date
    time_of_day_in_minutes: int
    kind: str
    status: str | None = None
    calculated_time_of_day_in_minutes: int | None = None
    original_time_of_day_in_minutes: int | None = None
    is_generated: bool | None = None
    terminal: Ref[int] | None = None
    geolocation: Geolocation | None = None
    reason: Ref[int] | None = None
    is_open: bool | None = None
    activity_levels: tuple[ActivityLevel[str], ...] = ()
    raw: Wire = field(default_factory=dict, compare=False, repr=False)

    @property
    def etag(self) -> str:
        """The entity tag a GET returns (``"<changeVersion>"``), for ``if_match``."""
        return f'"{self.change_version}"'

    @property
    def is_deleted(self) -> bool:
        return self.status == "Deleted"

    def to_input(self) -> ClockingInput:
        """The writable fields, to change and ``update`` (a PUT replaces all of them)."""
        return ClockingInput(
            person_id=self.person.id,
            date=self.date,
            time_of_day_in_minutes=self.time_of_day_in_minutes,
            kind=self.kind,
            terminal_id=None if self.terminal is None else self.terminal.id,
            geolocation=self.geolocation,
            reason_id=None if self.reason is None else self.reason.id,
            is_open=self.is_open,
            activity_levels=tuple(
                (level.level, level.activity_definition.id) for level in self.activity_levels
            ),
        )


@dataclass(frozen=True, slots=True)
class ClockingInput:
    """The writable fields of a clocking, for ``create`` and ``update``.

    ``activity_levels`` are ``(level, activity definition GUID)`` pairs (kind Activity);
    ``reason_id`` and ``is_open`` are for kind Reason. ``date`` may be a ``date`` or
    ``YYYY-MM-DD`` text.
    """

    person_id: int
    date: dt.date | str
    time_of_day_in_minutes: int
    kind: str
    terminal_id: int | None = None
    geolocation: Geolocation | None = None
    reason_id: int | None = None
    is_open: bool | None = None
    activity_levels: tuple[tuple[int, str], ...] = ()

    def to_wire(self) -> Wire:
        body: Wire = {
            "person": {"id": self.person_id},
            "date": self.date if isinstance(self.date, str) else self.date.isoformat(),
            "timeOfDayInMinutes": self.time_of_day_in_minutes,
            "kind": str(self.kind),
        }
        if self.terminal_id is not None:
            body["terminal"] = {"id": self.terminal_id}
        if self.geolocation is not None:
            body["geolocation"] = {
                "longitude": self.geolocation.longitude,
                "latitude": self.geolocation.latitude,
            }
        if self.reason_id is not None:
            body["reason"] = {"id": self.reason_id}
        if self.is_open is not None:
            body["isOpen"] = self.is_open
        if self.activity_levels:
            body["activityLevels"] = [
                {"level": level, "activityDefinition": {"id": definition}}
                for level, definition in self.activity_levels
            ]
        return body


@dataclass(frozen=True, slots=True)
class CreatedClocking:
    """What ``create`` returns: the id from ``Location``, and the record if sent back."""

    id: int
    location: str
    record: Clocking | None


@dataclass(slots=True)
class PaidPresence(_FromWire):
    """A paid presence (seed 002; scope ``calculated-totals.read``)."""

    change_version: str
    id: int
    person: Ref[int]
    date: dt.date
    duration_in_minutes: int
    shift_definition: Ref[int] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class ActivityDuration(_FromWire):
    """An activity duration (seed 003). ``status``: Unknown, Auto or Manual."""

    change_version: str
    id: int
    person: Ref[int]
    date: dt.date
    duration_in_minutes: int
    activity_levels: tuple[ActivityLevel[str], ...] = ()
    absence_definition: Ref[int] | None = None
    request: Ref[int | str] | None = None
    counter_definitions: tuple[Ref[int], ...] = ()
    status: str | None = None
    is_authorized: bool | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class CalculatedTotal(_FromWire):
    """One person-day's calculated totals (scope ``calculated-totals.read``); minutes.

    The weekly hours and pay-period hours are running sums within the ISO week and
    the pay period, the flextime balance within the pay period (docs/calculation.md).
    """

    change_version: str
    id: int
    person: Ref[int]
    date: dt.date
    normal_time_duration_in_minutes: int
    time_present_duration_in_minutes: int
    calculated_presence_duration_in_minutes: int
    weekly_hours_1_duration_in_minutes: int
    weekly_hours_2_duration_in_minutes: int
    weekly_hours_3_duration_in_minutes: int
    pay_period_hours_duration_in_minutes: int
    flextime_duration_in_minutes: int
    flextime_balance_in_minutes: int
    shift_definition: Ref[int] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class Person(_FromWire):
    """A person's personal information (the vendor's people pages). ``shift_definition``
    is this server's extension; ``external_references`` holds the person's own
    references when asked for (``(people,@badge-number)``)."""

    change_version: str | None
    id: int
    first_name: str | None = None
    last_name: str | None = None
    badge_number: str | None = None
    employee_number: str | None = None
    in_service_date: dt.date | None = None
    out_of_service_date: dt.date | None = None
    shift_definition: Ref[int] | None = None
    initials: str | None = None
    telephone: str | None = None
    mobile: str | None = None
    email: str | None = None
    address: str | None = None
    postal_code: str | None = None
    town: str | None = None
    country_iso_code: str | None = field(default=None, metadata={"wire": "countryISOCode"})
    nationality_iso_code: str | None = field(default=None, metadata={"wire": "nationalityISOCode"})
    sex: str | None = None
    birth_date: dt.date | None = None
    pay_group: str | None = None
    terminal_group: Ref[int] | None = None
    external_references: dict[str, str] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class Terminal(_FromWire):
    change_version: str | None
    id: int
    name: LocalizedText | None = None
    external_code: str | None = None
    is_enabled: bool | None = None
    external_references: dict[str, str] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class LocalizedText:
    """A translatable text: ``{"default": "Sickness", "translations": {"nl": "Ziekte"}}``."""

    default: str
    translations: dict[str, str] = field(default_factory=dict)


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    dt.date: dt.date.fromisoformat,
    Ref: _req_ref,
    LocalizedText: lambda value: LocalizedText(value["default"], value.get("translations") or {}),
    Geolocation: lambda value: Geolocation(value["longitude"], value["latitude"]),
}


@dataclass(slots=True)
class ActivityDefinition(_FromWire):
    """A node of an activity structure version (contract, "Fidelity"): ``id``,
    ``structure_version`` and ``parent`` are GUIDs; ``level`` 1 is the top."""

    change_version: str | None
    id: str
    structure_version: str | None = None
    level: int | None = None
    name: LocalizedText | None = None
    parent: Ref[str] | None = None
    short_code: str | None = None
    data_entry_code: str | None = None
    external_reference: str | None = None
    info: str | None = None
    active_from: dt.date | None = None
    active_until: dt.date | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class AbsenceDefinition(_FromWire):
    """``allowed_durations``: Unknown, FullDay, HalfDay, Interval, Duration (as ``str``)."""

    change_version: str | None
    id: int
    name: LocalizedText | None = None
    code: str | None = None
    friendly_name: LocalizedText | None = None
    friendly_code: LocalizedText | None = None
    allowed_durations: tuple[str, ...] = ()
    is_enabled: bool | None = None
    is_reason_for_clocking: bool | None = None
    absence_group: Ref[int] | None = None
    external_references: dict[str, str] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class CounterDefinition(_FromWire):
    """``unit``: Unknown, Interval, Duration or Instance."""

    change_version: str | None
    id: int
    name: LocalizedText | None = None
    code: str | None = None
    friendly_name: LocalizedText | None = None
    friendly_code: LocalizedText | None = None
    is_enabled: bool | None = None
    counter_group: Ref[int] | None = None
    unit: str | None = None
    external_references: dict[str, str] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True)
class ShiftDefinition(_FromWire):
    """The vendor's fields; the three times are this server's extension."""

    change_version: str | None
    id: int
    name: LocalizedText | None = None
    code: str | None = None
    friendly_name: LocalizedText | None = None
    is_enabled: bool | None = None
    start_time_in_minutes: int | None = None
    end_time_in_minutes: int | None = None
    break_in_minutes: int | None = None
    external_references: dict[str, str] | None = None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)
