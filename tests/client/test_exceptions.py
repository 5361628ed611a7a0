"""One hierarchy: retriable and fatal told apart by type, API and transport errors too."""

from __future__ import annotations

import httpx
import pytest

from chronodelta.client import (
    ApiError,
    BadRequest,
    ChronodeltaError,
    ClientError,
    Conflict,
    ContinuationTokenConflict,
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
from chronodelta.client._exceptions import error_class
from chronodelta.client._protocol import api_error


@pytest.mark.parametrize(
    ("status", "kind", "retriable"),
    [
        (400, BadRequest, False),
        (401, Unauthorized, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (409, Conflict, False),
        (410, DeltaExpired, False),
        (413, ClientError, False),
        (414, ClientError, False),
        (429, RateLimited, True),
        (500, ServerError, True),
        (503, ServerError, True),
        (504, ServerError, True),
    ],
)
def test_statuses_map_to_types(status: int, kind: type[ApiError], retriable: bool) -> None:
    assert error_class(status) is kind
    request = httpx.Request("GET", "https://acme.myprotime.eu/connector/x?filter=a")
    raised = api_error(request, httpx.Response(status, headers={"Retry-After": "4"}))
    assert type(raised) is kind and isinstance(raised, ApiError)
    assert isinstance(raised, RetriableError) is retriable
    assert isinstance(raised, FatalError) is not retriable
    assert isinstance(raised, ChronodeltaError)
    assert raised.url == "/connector/x?filter=a"  # path and query, no host


def test_a_409_is_about_the_continuation_token_only_on_a_page() -> None:
    """A 409 of a request with a continuationToken (contract, "Fidelity", "Paging") is a
    ContinuationTokenConflict; elsewhere (If-Match on PUT) it stays a Conflict."""
    assert error_class(409, paging=True) is ContinuationTokenConflict
    page = httpx.Request("GET", "https://x/connector/x?filter=a&continuationToken=t")
    assert type(api_error(page, httpx.Response(409))) is ContinuationTokenConflict
    write = httpx.Request("PUT", "https://x/connector/x/1")
    assert type(api_error(write, httpx.Response(409))) is Conflict


def test_rate_limited_carries_retry_after() -> None:
    request = httpx.Request("GET", "https://x/")
    raised = api_error(request, httpx.Response(429, headers={"Retry-After": "12"}))
    assert isinstance(raised, RateLimited) and raised.retry_after == 12.0


def test_transport_and_format_errors_have_their_own_types() -> None:
    transport = TransportError("ReadTimeout", method="GET", url="/x", maybe_applied=True)
    assert isinstance(transport, RetriableError) and not isinstance(transport, ApiError)
    invalid = InvalidResponse("not JSON", method="GET", url="/x")
    assert isinstance(invalid, FatalError) and not isinstance(invalid, ApiError)
    assert str(invalid) == "not JSON [GET /x]"
    assert repr(transport) == "TransportError('ReadTimeout', method='GET', url='/x')"
