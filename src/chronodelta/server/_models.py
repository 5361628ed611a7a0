"""Wire models: request bodies (validated) and response shapes (documented).

Request bodies are strict where .NET-style JSON would be: a number is not a string
and a date is ``YYYY-MM-DD`` text. Read-only fields may be sent back (a client that
PUTs what it GOT) and are ignored; unknown fields are refused so that typos surface.
Responses are serialized straight from rows (``_serialize.py``); these models only
describe them in the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from chronodelta.domain import (
    ACTIVITY_CODE_MAX,
    CUSTOM_REFERENCE_VALUE_MAX,
    GUID_PATTERN,
    MAX_TIME_OF_DAY,
    MIN_TIME_OF_DAY,
    AllowedDuration,
    ClockingKind,
    ClockingStatus,
    CounterUnit,
    DurationStatus,
    Sex,
    parse_guid,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ChangeVersion = Annotated[str, Field(pattern=r"^[0-9A-F]{20}$", examples=["0000000000000000002A"])]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
StrictId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdRef(_Strict):
    id: StrictId


# Issue 10, item 1: a NUL reached PostgreSQL (which cannot store one) and gave a 500,
# while SQLite stored it; a lone surrogate ("\ud800" in JSON) cannot be encoded as
# UTF-8 for either. Text a client sends for the database is refused with a 400 naming
# the field, the same on both: no C0 control character (tab and newline included: no
# reference or code holds one), no DEL, no lone surrogate. The pattern documents the
# controls in OpenAPI; the validator decides (a pattern cannot name surrogates).
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
TEXT_PATTERN = r"^[^\u0000-\u001F\u007F]*$"


def _storable(value: str) -> str:
    if _UNSTORABLE.search(value):
        raise ValueError(
            "must not contain control characters (U+0000 to U+001F, U+007F) or lone surrogates"
        )
    return value


Text = Annotated[
    StrictStr, AfterValidator(_storable), Field(json_schema_extra={"pattern": TEXT_PATTERN})
]
ReferenceValue = Annotated[Text, Field(min_length=1, max_length=200)]


class RecordRef(_Strict):
    """A nested object of a write body: the record's id, or one external reference.

    External references page: ``{"person": {"externalReferences": {"@badge-number":
    "6767676"}}}``. When both are sent (a GET body with references, PUT back), the id
    is used.
    """

    id: StrictId | None = None
    externalReferences: dict[str, ReferenceValue] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> RecordRef:
        _check_named(self.id, self.externalReferences)
        return self


def _check_named(record_id: object, references: dict[str, str] | None) -> None:
    if record_id is None:
        if not references:
            raise ValueError("give the record's id or one of its externalReferences")
        if len(references) != 1:
            raise ValueError("name the record by exactly one external reference")


# Seed 003: ``activityDefinition.id`` is a string; the vendor's ids of activity
# definitions are GUIDs. Accepted in either case, answered in lower case.
Guid = Annotated[
    StrictStr, AfterValidator(parse_guid), Field(json_schema_extra={"pattern": GUID_PATTERN})
]
GuidText = Annotated[str, Field(pattern=GUID_PATTERN)]


class ActivityDefinitionRef(_Strict):
    """``activityLevels[].activityDefinition`` of a write body: the definition's GUID, or
    one external reference (as ``RecordRef``)."""

    id: Guid | None = None
    externalReferences: dict[str, ReferenceValue] | None = None

    @model_validator(mode="after")
    def _one_way_to_name_it(self) -> ActivityDefinitionRef:
        _check_named(self.id, self.externalReferences)
        return self


class Geolocation(_Strict):
    # strict: a JSON number only (an integer is fine). Lax floats took false and "12.5"
    # (found by Schemathesis: a boolean latitude was stored as 0.0).
    longitude: Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
    latitude: Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]


class ActivityLevelBody(_Strict):
    level: Annotated[StrictInt, Field(ge=1, le=10)]
    activityDefinition: ActivityDefinitionRef


class ClockingBody(_Strict):
    """The writable fields of a clocking (POST and PUT)."""

    person: RecordRef
    date: dt.date
    timeOfDayInMinutes: Annotated[StrictInt, Field(ge=MIN_TIME_OF_DAY, le=MAX_TIME_OF_DAY)]
    kind: ClockingKind
    terminal: RecordRef | None = None
    geolocation: Geolocation | None = None
    reason: RecordRef | None = None
    isOpen: StrictBool | None = None
    activityLevels: list[ActivityLevelBody] | None = Field(default=None, max_length=10)
    # Read-only: accepted so that a GET body can be PUT back, and ignored.
    changeVersion: Any = None
    id: Any = None
    originalTimeOfDayInMinutes: Any = None
    calculatedTimeOfDayInMinutes: Any = None
    isGenerated: Any = None
    status: Any = None

    @field_validator("date", mode="before")
    @classmethod
    def _date_is_iso_text(cls, value: object) -> object:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError("must be a date written YYYY-MM-DD")
        return value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_is_text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be one of InOut, Reason, Activity, ActivityEnd")
        return value


# ---- responses (documentation only) -------------------------------------------------


class IdOut(BaseModel):
    id: int
    externalReferences: dict[str, str] | None = None


class GuidIdOut(BaseModel):
    id: GuidText
    externalReferences: dict[str, str] | None = None


class ActivityLevelOut(BaseModel):
    level: int
    activityDefinition: GuidIdOut


class Clocking(BaseModel):
    changeVersion: ChangeVersion
    id: int
    calculatedTimeOfDayInMinutes: int
    isGenerated: bool
    status: ClockingStatus
    person: IdOut
    date: dt.date
    timeOfDayInMinutes: int
    kind: ClockingKind
    originalTimeOfDayInMinutes: int | None = None
    terminal: IdOut | None = None
    geolocation: Geolocation | None = None
    reason: IdOut | None = None
    isOpen: bool | None = None
    activityLevels: list[ActivityLevelOut] | None = None


ExternalReferencesField = Annotated[
    dict[str, str] | None,
    Field(description="The references asked for with externalReferences"),
]


class Person(BaseModel):
    """The vendor's personal information; ``shiftDefinition`` is ours (the shift the
    calculation plans the person's days with)."""

    changeVersion: ChangeVersion
    id: int
    lastName: str
    firstName: str
    initials: str | None = None
    telephone: str | None = None
    mobile: str | None = None
    email: str | None = None
    address: str | None = None
    postalCode: str | None = None
    town: str | None = None
    countryISOCode: str | None = None
    nationalityISOCode: str | None = None
    sex: Sex
    birthDate: dt.date | None = None
    inServiceDate: dt.date
    outOfServiceDate: dt.date | None = None
    employeeNumber: str
    payGroup: str | None = None
    terminalGroup: IdOut | None = None
    badgeNumber: str
    shiftDefinition: IdOut | None = None
    externalReferences: ExternalReferencesField = None


class Terminal(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: LocalizedText
    externalCode: str
    isEnabled: bool
    externalReferences: ExternalReferencesField = None


class LocalizedText(BaseModel):
    """A translatable text: ``{"default": "Sickness", "translations": {"nl": "Ziekte"}}``."""

    default: str
    translations: dict[str, str]


ActivityCode = Annotated[str, Field(max_length=ACTIVITY_CODE_MAX)]


class ActivityDefinition(BaseModel):
    """Contract, "Fidelity": the vendor's fields of an activity definition."""

    id: GuidText
    structureVersion: GuidText
    level: int
    changeVersion: ChangeVersion
    name: LocalizedText
    parent: GuidIdOut | None = None
    shortCode: str | None = None
    dataEntryCode: ActivityCode | None = None
    externalReference: ActivityCode | None = None
    info: str | None = None
    activeFrom: dt.date | None = None
    activeUntil: dt.date | None = None


class AbsenceDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: LocalizedText
    code: str
    friendlyName: LocalizedText | None = None
    friendlyCode: LocalizedText | None = None
    allowedDurations: list[AllowedDuration]
    isEnabled: bool
    isReasonForClocking: bool
    absenceGroup: IdOut | None = None
    externalReferences: ExternalReferencesField = None


class CounterDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: LocalizedText
    code: str
    friendlyName: LocalizedText | None = None
    friendlyCode: LocalizedText | None = None
    isEnabled: bool
    counterGroup: IdOut | None = None
    unit: CounterUnit
    externalReferences: ExternalReferencesField = None


class ShiftDefinition(BaseModel):
    """The vendor's fields, and the planned times the calculation uses (ours)."""

    changeVersion: ChangeVersion
    id: int
    name: LocalizedText
    code: str
    friendlyName: LocalizedText | None = None
    isEnabled: bool
    startTimeInMinutes: int
    endTimeInMinutes: int
    breakInMinutes: int
    externalReferences: ExternalReferencesField = None


class PaidPresence(BaseModel):
    changeVersion: ChangeVersion
    id: int
    person: IdOut
    date: dt.date
    durationInMinutes: int
    shiftDefinition: IdOut | None = None


class CalculatedTotal(BaseModel):
    """One person-day's calculated totals (docs/calculation.md); minutes throughout."""

    changeVersion: ChangeVersion
    id: int
    person: IdOut
    date: dt.date
    normalTimeDurationInMinutes: int
    timePresentDurationInMinutes: int
    calculatedPresenceDurationInMinutes: int
    weeklyHours1DurationInMinutes: int
    weeklyHours2DurationInMinutes: int
    weeklyHours3DurationInMinutes: int
    payPeriodHoursDurationInMinutes: int
    flextimeDurationInMinutes: int
    flextimeBalanceInMinutes: int
    shiftDefinition: IdOut | None = None


class ActivityDuration(BaseModel):
    changeVersion: ChangeVersion
    id: int
    person: IdOut
    date: dt.date
    durationInMinutes: int
    activityLevels: list[ActivityLevelOut] | None = None
    absenceDefinition: IdOut | None = None
    request: IdOut | None = None
    counterDefinitions: list[IdOut] | None = None
    status: DurationStatus
    isAuthorized: bool


class ExternalReferencesOut(BaseModel):
    id: int | GuidText
    externalReferences: dict[str, str]


class ExternalReferenceBody(_Strict):
    """The value of a custom external reference (PUT)."""

    value: Annotated[Text, Field(min_length=1, max_length=CUSTOM_REFERENCE_VALUE_MAX)]


class ErrorDetail(BaseModel):
    code: str
    message: str
    reasons: list[str] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class TokenResponse(BaseModel):
    access_token: str
    expires_in: int
    token_type: str
    scope: str


def page_model(item: type[BaseModel]) -> type[BaseModel]:
    """``{"value": [...], "nextLink"?: "..."}`` for ``item``."""
    from pydantic import create_model

    return create_model(
        f"{item.__name__}Page",
        value=(list[item], ...),  # type: ignore[valid-type]
        nextLink=(str | None, None),
    )
