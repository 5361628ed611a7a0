"""The Python SDK of the Protime Connector API: ``Client`` and ``AsyncClient``.

Works against chronodelta's server and the vendor's (same paths and shapes). See
docs/sdk.md. Exceptions: ``_exceptions.py`` documents the hierarchy.
"""

from ._async_client import AsyncClient, AsyncClockings, AsyncCollection, AsyncDeltaStream
from ._client import Client, Clockings, Collection, DeltaStream
from ._exceptions import (
    ApiError,
    BadRequest,
    ChronodeltaError,
    ClientError,
    Conflict,
    DeltaExpired,
    FatalError,
    Forbidden,
    InvalidResponse,
    NotFound,
    RateLimited,
    RetriableError,
    ServerError,
    TransportError,
    Unauthorized,
)
from ._models import (
    AbsenceDefinition,
    ActivityDefinition,
    ActivityDuration,
    ActivityLevel,
    Clocking,
    ClockingInput,
    CounterDefinition,
    CreatedClocking,
    Geolocation,
    LocalizedText,
    PaidPresence,
    Person,
    Ref,
    ShiftDefinition,
    Terminal,
)
from ._paging import Change, DeltaChanges, Page
from ._query import date_filter, format_external_references
from ._retry import RetryPolicy

__all__ = [
    "AbsenceDefinition",
    "ActivityDefinition",
    "ActivityDuration",
    "ActivityLevel",
    "ApiError",
    "AsyncClient",
    "AsyncClockings",
    "AsyncCollection",
    "AsyncDeltaStream",
    "BadRequest",
    "Change",
    "ChronodeltaError",
    "Client",
    "ClientError",
    "Clocking",
    "ClockingInput",
    "Clockings",
    "Collection",
    "Conflict",
    "CounterDefinition",
    "CreatedClocking",
    "DeltaChanges",
    "DeltaExpired",
    "DeltaStream",
    "FatalError",
    "Forbidden",
    "Geolocation",
    "InvalidResponse",
    "LocalizedText",
    "NotFound",
    "Page",
    "PaidPresence",
    "Person",
    "RateLimited",
    "Ref",
    "RetriableError",
    "RetryPolicy",
    "ServerError",
    "ShiftDefinition",
    "Terminal",
    "TransportError",
    "Unauthorized",
    "date_filter",
    "format_external_references",
]
