"""The vendor's wire errors, as exceptions rendered by one handler.

Contract, "Errors": every error body is ``{"error": {"code", "message", "reasons"?}}``.
Routes and the backend raise these; ``install_error_handlers`` turns them, and every
framework error (unknown route, wrong method, malformed body), into that shape, and
turns anything unexpected into a logged 500 that reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from chronodelta.storage import DatabaseUnavailable

log = logging.getLogger("chronodelta.server")


class ApiError(Exception):
    status_code = 500
    code = "InternalServerError"
    default_message = "An unexpected error occurred"

    def __init__(
        self,
        message: str | None = None,
        reasons: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.reasons = list(reasons)
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.reasons:
            error["reasons"] = self.reasons
        return {"error": error}


class BadRequest(ApiError):
    status_code = 400
    code = "BadRequest"
    default_message = "The request was invalid"


class InvalidScope(BadRequest):
    """A token request for a scope that is unknown or not granted to the client.

    The code is OAuth 2.0's name for it (RFC 6749, section 5.2: "invalid_scope"), so
    that a client can tell it from a malformed request; the body keeps the API's error
    format like every other answer (contract, "Errors").
    """

    code = "invalid_scope"
    default_message = "The requested scope is invalid"


class Unauthorized(ApiError):
    status_code = 401
    code = "Unauthorized"
    default_message = "The request is not authorized"

    def __init__(self, message: str | None = None, reasons: Sequence[str] = ()) -> None:
        super().__init__(message, reasons, {"WWW-Authenticate": 'Bearer realm="protimeapi"'})


class NotFound(ApiError):
    status_code = 404
    code = "NotFound"
    default_message = "The resource was not found"


class MethodNotAllowed(ApiError):
    status_code = 405
    code = "MethodNotAllowed"
    default_message = "The method is not allowed for this resource"


class Conflict(ApiError):
    status_code = 409
    code = "Conflict"
    default_message = "The resource was changed by another request"


class ContinuationTokenConflict(Conflict):
    """409 for a continuationToken that cannot be used: forged, altered, of another
    tenant or collection, or issued for another filter (contract, "Fidelity",
    "Paging": "an invalid or expired continuation token answers 409 'Continuation
    token conflict'"). The client starts the list again, without a token."""

    default_message = "Continuation token conflict"


class Gone(ApiError):
    status_code = 410
    code = "Gone"
    default_message = "The resource is no longer available"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PayloadTooLarge"
    default_message = "The request body is too large"


class UriTooLong(ApiError):
    status_code = 414
    code = "UriTooLong"
    default_message = "The request URI is too long"


class RequestTimeout(ApiError):
    """408: the request did not arrive whole in time (issue 10, item 4; RFC 9110, 15.5.9).

    The connection is closed after it (RFC 9110: the server "SHOULD send the close
    connection option"), so a slow client cannot hold it with more bytes.
    """

    status_code = 408
    code = "RequestTimeout"
    default_message = "The request was not received in time"

    def __init__(self, reasons: Sequence[str] = ()) -> None:
        super().__init__(None, reasons, {"Connection": "close"})


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UnsupportedMediaType"
    default_message = "The request body has an unsupported content type"


class RequestHeaderFieldsTooLarge(ApiError):
    """431: the request line and headers are over the limit (issue 10, item 4; RFC 6585, 5)."""

    status_code = 431
    code = "RequestHeaderFieldsTooLarge"
    default_message = "The request headers are too large"


class TooManyRequests(ApiError):
    status_code = 429
    code = "TooManyRequests"
    default_message = "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(ApiError):
    """503: the database was busy past its timeout, or away (contract, "Errors": 503)."""

    status_code = 503
    code = "ServiceUnavailable"
    default_message = "The service is busy; retry after the given delay"

    def __init__(self, retry_after: int, reasons: Sequence[str] = ()) -> None:
        super().__init__(None, reasons, {"Retry-After": str(max(1, retry_after))})


def error_response(error: ApiError) -> Response:
    return Response(
        orjson.dumps(error.body()),
        status_code=error.status_code,
        media_type="application/json",
        headers=error.headers,
    )


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        UriTooLong,
        UnsupportedMediaType,
    )
}


def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_class = _STATUS_ERRORS.get(exc.status_code, ApiError)
    error = error_class()
    if error_class is ApiError:
        error.status_code = exc.status_code
    if exc.status_code == 405:
        error.headers.update(exc.headers or {})
        allowed = _allowed_methods(request)
        if allowed:
            error.headers["Allow"] = allowed
    return error_response(error)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, for the 405's ``Allow`` header.

    Starlette's own ``Allow`` names only the first route whose path matched (so GET and
    PUT on /clockings/{id} answered PATCH with ``Allow: GET``); RFC 9110 wants all of
    them. Found by Schemathesis (``allow_header_conformance``) and test_http_behaviour.
    """
    path = get_route_path(request.scope)
    methods: set[str] = set()
    # iter_route_contexts flattens FastAPI's included routers into their routes.
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def _validation_error(_request: Request, exc: Exception) -> Response:
    # Contract, "Errors": a malformed field is a 400, never FastAPI's 422.
    assert isinstance(exc, RequestValidationError)
    return error_response(BadRequest(reasons=[_describe(e) for e in exc.errors()]))


def _describe(error: Mapping[str, Any]) -> str:
    location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "header")]
    where = ".".join(location) or "body"
    return f"{where}: {error.get('msg', 'is invalid')}"


def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


def _database_unavailable(request: Request, exc: Exception) -> Response:
    # Issue 9: a lock held past the busy timeout, or a database that is away, is load
    # or an outage, not a bug: 503 + Retry-After, with what the client can rely on.
    assert isinstance(exc, DatabaseUnavailable)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(ServiceUnavailable(exc.retry_after, reasons=[exc.reason]))


def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ApiError())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
