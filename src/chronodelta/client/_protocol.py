"""Everything the two clients share, as I/O-free generators ("sans-I/O").

Each operation is a generator that *yields actions* and receives their results:

* ``Send(request, stream)``: send it; the result is the ``httpx.Response``, or the
  ``httpx.TransportError`` raised (passed back as a value, not thrown). With
  ``stream`` the response's body is left unread.
* ``Read(response, limit)``: read a streamed body, whole (``limit`` None: then
  ``response.content`` is set) or until more than ``limit`` bytes arrived; the result
  is a ``Head``, or the ``httpx.TransportError`` raised.
* ``Sleep(seconds)``: wait; the result is None.
* ``GetToken(stale)``: an access token to use; ``stale`` is one the server just
  refused. The driver answers from the token cache, or runs ``token_flow`` (under a
  lock, so that concurrent calls share one token request).

The generator returns the operation's result or raises its exception. ``Client`` and
``AsyncClient`` are drivers of these generators (``_run``): the only code that differs
between them is a loop of about ten lines that does the I/O. Request building,
retries, the 401 refresh, token bookkeeping and parsing are here, once.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
import orjson

from ._auth import Credentials, TokenCache, token_request
from ._exceptions import ApiError, InvalidResponse, RateLimited, TransportError, error_class
from ._models import (
    AbsenceDefinition,
    ActivityDefinition,
    ActivityDuration,
    CalculatedTotal,
    Clocking,
    ClockingInput,
    CounterDefinition,
    CreatedClocking,
    PaidPresence,
    Person,
    ShiftDefinition,
    Terminal,
)
from ._paging import DeltaChanges, parse_changes, parse_record
from ._query import ExternalReferences, collection_url, record_url, reference_url, resolve
from ._retry import NOT_SENT, RetryPolicy, parse_retry_after, retry_delay

log = logging.getLogger("chronodelta.client")

T = TypeVar("T")
M = TypeVar("M")
Wire = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Read:
    response: httpx.Response
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The first bytes of a streamed body (all of it when ``rest`` is None).

    ``rest`` is the driver's iterator of the chunks that follow (an ``Iterator`` or an
    ``AsyncIterator`` of bytes): opaque here, only the driver that made it reads it.
    """

    data: bytes
    rest: Any = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class GetToken:
    stale: str | None = None


Action = Send | Read | Sleep | GetToken
Flow = Generator[Action, Any, T]


def as_is(record: Wire) -> Wire:
    """The "parser" of raw records: the decoded JSON object itself, once it is one."""
    if type(record) is not dict:
        raise TypeError(f"a record is a JSON {type(record).__name__}, not an object")
    return record


@dataclass(frozen=True, slots=True)
class CollectionSpec(Generic[M]):
    """A collection's wire name and the parser of its records."""

    name: str
    parse: Callable[[Wire], M]

    def raw(self) -> CollectionSpec[Wire]:
        """The same collection, its records left as the decoded JSON objects."""
        return CollectionSpec(self.name, as_is)


CLOCKINGS = CollectionSpec("clockings", Clocking.from_wire)
PAID_PRESENCES = CollectionSpec("paid-presences", PaidPresence.from_wire)
ACTIVITY_DURATIONS = CollectionSpec("activity-durations", ActivityDuration.from_wire)
CALCULATED_TOTALS = CollectionSpec("calculated-totals", CalculatedTotal.from_wire)
PEOPLE = CollectionSpec("people", Person.from_wire)
TERMINALS = CollectionSpec("terminals", Terminal.from_wire)
ACTIVITY_DEFINITIONS = CollectionSpec("activity-definitions", ActivityDefinition.from_wire)
ABSENCE_DEFINITIONS = CollectionSpec("absence-definitions", AbsenceDefinition.from_wire)
COUNTER_DEFINITIONS = CollectionSpec("counter-definitions", CounterDefinition.from_wire)
SHIFT_DEFINITIONS = CollectionSpec("shift-definitions", ShiftDefinition.from_wire)


def structure_level(structure_version: str, level: int) -> CollectionSpec[ActivityDefinition]:
    """The activity definitions of one level of one structure version (contract,
    "Fidelity": ``/activity-structure-versions/{id}/levels/{level}/activity-definitions``)."""
    try:
        version = str(uuid.UUID(structure_version))
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f"structure_version must be a GUID, got {structure_version!r}") from None
    if type(level) is not int or level < 1:
        raise ValueError(f"level must be an integer from 1, got {level!r}")
    name = f"activity-structure-versions/{version}/levels/{level}/{ACTIVITY_DEFINITIONS.name}"
    return CollectionSpec(name, ActivityDefinition.from_wire)


# Contract: "Every request must carry a User-Agent header (ServiceName/Version (Company))".
_USER_AGENT = re.compile(r"[^\s/()]+/[^\s/()]+ \([^()]+\)")
_ETAG = re.compile(r'(W/)?"[^"]*"|\*')


def check_user_agent(user_agent: str) -> str:
    if not isinstance(user_agent, str) or not _USER_AGENT.fullmatch(user_agent):
        raise ValueError(
            f"user_agent must read ServiceName/Version (Company), like "
            f"'PayrollSync/2.1 (Acme)'; got {user_agent!r}"
        )
    return user_agent


def if_match_header(value: str) -> str:
    """An entity tag for ``If-Match``: a ``changeVersion`` is quoted, a tag kept as is."""
    return value if _ETAG.fullmatch(value) else f'"{value}"'


def where(request: httpx.Request) -> str:
    """Path and query of a request, for messages (never the host or a credential)."""
    return request.url.raw_path.decode("ascii", "replace")


def decode_json(request: httpx.Request, response: httpx.Response) -> Any:
    return decode_body(request, response, response.content)


def decode_body(request: httpx.Request, response: httpx.Response, body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise not_json(request, response) from None


def not_json(request: httpx.Request, response: httpx.Response) -> InvalidResponse:
    return InvalidResponse(
        f"HTTP {response.status_code} with a body that is not JSON",
        method=request.method,
        url=where(request),
    )


def api_error(request: httpx.Request, response: httpx.Response) -> ApiError:
    """The exception for an error response, from the contract's or OAuth2's error body."""
    status = response.status_code
    code, message, reasons = response.reason_phrase or f"HTTP {status}", "", []
    try:
        body = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # {"error": {"code", "message", "reasons"?}}
            code = str(error.get("code") or code)
            message = str(error.get("message") or "")
            found = error.get("reasons")
            if isinstance(found, list):
                reasons = [str(reason) for reason in found]
        elif isinstance(error, str):  # OAuth2: {"error": "invalid_client", ...}
            code = error
            message = str(body.get("error_description") or "")
    message = message or f"HTTP {status} {response.reason_phrase}".strip()
    kind = error_class(status, paging="continuationToken" in request.url.params)
    details = {"method": request.method, "url": where(request)}
    if kind is RateLimited:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(status, code, message, reasons, retry_after=retry_after, **details)
    return kind(status, code, message, reasons, **details)


def as_transport_error(exc: httpx.TransportError | httpx.DecodingError) -> httpx.TransportError:
    """``exc`` as a transport error. httpx raises ``DecodingError``, which is not one,
    for a body it cannot decode (a corrupt gzip stream, say); to the retry rules that
    is a body that broke off, as with a cut connection."""
    if isinstance(exc, httpx.TransportError):
        return exc
    return httpx.ReadError(f"the response body could not be decoded: {exc}")


def finish(
    request: httpx.Request, outcome: httpx.Response | httpx.TransportError
) -> httpx.Response:
    """The response if it is a success; the matching exception otherwise."""
    if isinstance(outcome, httpx.TransportError):
        raise transport_error(request, outcome) from outcome
    if outcome.status_code >= 400:
        raise api_error(request, outcome)
    return outcome


def transport_error(request: httpx.Request, failure: httpx.TransportError) -> TransportError:
    return TransportError(
        f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__,
        method=request.method,
        url=where(request),
        maybe_applied=not isinstance(failure, NOT_SENT),
    )


def _describe(outcome: httpx.Response | httpx.TransportError) -> str:
    if isinstance(outcome, httpx.Response):
        return f"HTTP {outcome.status_code}"
    return type(outcome).__name__


class Protocol:
    """The client's configuration and I/O-free operations (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str | httpx.URL,
        tenant: str,
        credentials: Credentials,
        user_agent: str,
        scopes: Sequence[str] | None,
        retry: RetryPolicy,
        random: Callable[[], float],
        token_url: str | httpx.URL | None,
        refresh_margin: float,
    ) -> None:
        self.base_url = httpx.URL(base_url)
        if not self.base_url.is_absolute_url:
            raise ValueError(
                f"base_url must be absolute, like https://acme.myprotime.eu: {base_url!r}"
            )
        if not tenant or "/" in tenant:
            raise ValueError(f"invalid tenant {tenant!r}")
        self.tenant = tenant
        self.credentials = credentials
        self.user_agent = check_user_agent(user_agent)
        self.scopes = tuple(scopes) if scopes is not None else None
        self.retry = retry
        self.random = random
        self.token_url = (
            httpx.URL(token_url)
            if token_url is not None
            else resolve(self.base_url, f"/tenants/{tenant}/connect/token")
        )
        self.tokens = TokenCache(refresh_margin)
        self.headers = {"User-Agent": self.user_agent, "Accept": "application/json"}

    # ---- the two primitive flows ---------------------------------------------------

    def token_flow(self) -> Flow[object]:
        """Ask the token endpoint for a token (with retries); returns the decoded reply."""
        attempt = 1
        while True:
            request = token_request(self.token_url, self.credentials, self.scopes, self.headers)
            outcome = yield Send(request)
            delay = retry_delay(
                self.retry, attempt=attempt, method="GET", outcome=outcome, random=self.random()
            )  # a second token request is harmless: retry it like a GET
            if delay is None:
                return decode_json(request, finish(request, outcome))
            self._log_retry(request, outcome, attempt, delay)
            attempt += 1
            yield Sleep(delay)

    def call(
        self,
        method: str,
        link: str,
        *,
        body: Wire | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Flow[tuple[httpx.Request, httpx.Response]]:
        """One API call with a token, retries, and one token refresh on a 401."""
        request, response, _ = yield from self._exchange(method, link, body, headers, None)
        return request, response

    def open_stream(
        self, link: str, head_limit: int
    ) -> Flow[tuple[httpx.Request, httpx.Response, Head]]:
        """``GET`` ``link`` as ``call`` does, its body streamed: the response and the
        first bytes of its body, all of it if it ends within ``head_limit`` bytes.

        Until the head is read nothing was handed to the caller, so a body that breaks
        off within it fails the attempt like a dropped response, and the attempt is
        retried as any ``GET``. Error responses are read whole, as ``call`` reads them.
        The caller reads the rest (``head.rest``) and closes the response.
        """
        request, response, head = yield from self._exchange("GET", link, None, None, head_limit)
        assert head is not None
        return request, response, head

    def _exchange(
        self,
        method: str,
        link: str,
        body: Wire | None,
        headers: Mapping[str, str] | None,
        head_limit: int | None,
    ) -> Flow[tuple[httpx.Request, httpx.Response, Head | None]]:
        """``call``, or with ``head_limit`` ``open_stream``: the retry loop of both."""
        url = resolve(self.base_url, link)
        content = orjson.dumps(body) if body is not None else None
        all_headers = dict(self.headers)
        if content is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        attempt, stale, refreshed = 1, None, False
        while True:
            token = yield GetToken(stale)
            stale = None
            request = httpx.Request(
                method,
                url,
                content=content,
                headers={**all_headers, "Authorization": f"Bearer {token}"},
            )
            outcome = yield Send(request, stream=head_limit is not None)
            head = None
            if head_limit is not None and isinstance(outcome, httpx.Response):
                outcome, head = yield from self._read_head(outcome, head_limit)
            if isinstance(outcome, httpx.Response) and outcome.status_code == 401 and not refreshed:
                log.info("%s %s: 401, renewing the access token once", method, where(request))
                refreshed, stale = True, token
                continue
            delay = retry_delay(
                self.retry, attempt=attempt, method=method, outcome=outcome, random=self.random()
            )
            if delay is None:
                return request, finish(request, outcome), head
            self._log_retry(request, outcome, attempt, delay)
            attempt += 1
            yield Sleep(delay)

    @staticmethod
    def _read_head(
        response: httpx.Response, head_limit: int
    ) -> Flow[tuple[httpx.Response | httpx.TransportError, Head | None]]:
        """The head of a streamed response: an error's whole body (its message, what a
        401 or a 503 says), a success's first ``head_limit`` bytes and a little more.
        A body that breaks off makes the attempt a transport failure."""
        read = yield Read(response, head_limit if response.status_code < 400 else None)
        if isinstance(read, httpx.TransportError):
            return read, None
        return response, read

    def _log_retry(
        self,
        request: httpx.Request,
        outcome: httpx.Response | httpx.TransportError,
        attempt: int,
        delay: float,
    ) -> None:
        log.warning(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
            request.method,
            where(request),
            _describe(outcome),
            delay,
            attempt + 1,
            self.retry.max_attempts,
        )

    # ---- operations ---------------------------------------------------------------

    def get_json(self, link: str) -> Flow[object]:
        request, response = yield from self.call("GET", link)
        return decode_json(request, response)

    def get_record(
        self,
        spec: CollectionSpec[M],
        record_id: int | str,
        external_references: ExternalReferences,
    ) -> Flow[M]:
        body = yield from self.get_json(record_url(spec.name, record_id, external_references))
        return parse_record(body, spec.parse)

    def get_record_by_reference(
        self,
        spec: CollectionSpec[M],
        reference: str,
        value: str,
        external_references: ExternalReferences,
    ) -> Flow[M]:
        url = reference_url(spec.name, reference, value, external_references)
        body = yield from self.get_json(url)
        return parse_record(body, spec.parse)

    def get_changes(self, spec: CollectionSpec[M], delta_link: str) -> Flow[DeltaChanges[M]]:
        body = yield from self.get_json(delta_link)
        return parse_changes(body, spec.parse)

    def create_clocking(self, clocking: ClockingInput | Mapping[str, Any]) -> Flow[CreatedClocking]:
        """``POST``: 201 with ``Location``; the id is its last path segment."""
        link = collection_url(CLOCKINGS.name)
        request, response = yield from self.call("POST", link, body=_wire(clocking))
        location = response.headers.get("Location", "")
        try:
            new_id = int(httpx.URL(location).path.rstrip("/").rsplit("/", 1)[-1])
        except (ValueError, httpx.InvalidURL):
            raise InvalidResponse(
                f"the created clocking's Location is missing or has no id: {location!r}",
                method=request.method,
                url=where(request),
            ) from None
        record = None
        if response.content.strip():
            record = parse_record(decode_json(request, response), Clocking.from_wire)
        return CreatedClocking(new_id, location, record)

    def update_clocking(
        self, clocking_id: int, clocking: ClockingInput | Mapping[str, Any], if_match: str | None
    ) -> Flow[Clocking | None]:
        """``PUT`` the whole resource; the record if the server sends it back."""
        headers = {"If-Match": if_match_header(if_match)} if if_match else None
        request, response = yield from self.call(
            "PUT", record_url(CLOCKINGS.name, clocking_id), body=_wire(clocking), headers=headers
        )
        if not response.content.strip():
            return None
        return parse_record(decode_json(request, response), Clocking.from_wire)

    def delete_clocking(self, clocking_id: int, if_match: str | None) -> Flow[None]:
        headers = {"If-Match": if_match_header(if_match)} if if_match else None
        yield from self.call("DELETE", record_url(CLOCKINGS.name, clocking_id), headers=headers)


def _wire(clocking: ClockingInput | Mapping[str, Any]) -> Wire:
    return clocking.to_wire() if isinstance(clocking, ClockingInput) else dict(clocking)
