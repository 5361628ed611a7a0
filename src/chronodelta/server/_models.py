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

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from chronodelta.domain import MAX_TIME_OF_DAY, MIN_TIME_OF_DAY, ClockingKind, ClockingStatus

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ChangeVersion = Annotated[str, Field(pattern=r"^[0-9A-F]{20}$", examples=["0000000000000000002A"])]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
StrictId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdRef(_Strict):
    id: StrictId


class Geolocation(_Strict):
    # strict: a JSON number only (an integer is fine). Lax floats took false and "12.5"
    # (found by Schemathesis: a boolean latitude was stored as 0.0).
    longitude: Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
    latitude: Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]


class ActivityLevelBody(_Strict):
    level: Annotated[StrictInt, Field(ge=1, le=10)]
    activityDefinition: IdRef


class ClockingBody(_Strict):
    """The writable fields of a clocking (POST and PUT)."""

    person: IdRef
    date: dt.date
    timeOfDayInMinutes: Annotated[StrictInt, Field(ge=MIN_TIME_OF_DAY, le=MAX_TIME_OF_DAY)]
    kind: ClockingKind
    terminal: IdRef | None = None
    geolocation: Geolocation | None = None
    reason: IdRef | None = None
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


class ActivityLevelOut(BaseModel):
    level: int
    activityDefinition: IdOut


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


class Person(BaseModel):
    changeVersion: ChangeVersion
    id: int
    firstName: str
    lastName: str
    badgeNumber: str
    employeeNumber: str
    inServiceDate: dt.date
    outOfServiceDate: dt.date | None = None
    shiftDefinition: IdOut | None = None


class Terminal(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: str
    externalCode: str


class ActivityDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: str
    level: int
    parent: IdOut | None = None
    dataEntryCode: str
    externalReference: str


class AbsenceDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: str
    absenceCode: str


class CounterDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: str
    counterCode: str


class ShiftDefinition(BaseModel):
    changeVersion: ChangeVersion
    id: int
    name: str
    shiftCode: str
    startTimeInMinutes: int
    endTimeInMinutes: int
    breakInMinutes: int


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
