"""The answer of a status rule: the API's own error for that status (server/_errors.py).

Issue 13, item 2: "Matching API calls get that status in the vendor's error format
(429 and 503 with ``Retry-After``)". The code and message are those the server gives
for that status itself; the reason names the rule, so that an integrator reading the
body (or the request log) knows the failure was asked for.
"""

from __future__ import annotations

import http

from chronodelta.server._errors import (
    ApiError,
    BadRequest,
    Conflict,
    Gone,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UriTooLong,
)
from chronodelta.server.faults._rules import FaultRule

_KNOWN: dict[int, type[ApiError]] = {
    cls.status_code: cls
    for cls in (
        ApiError,
        BadRequest,
        Unauthorized,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        UriTooLong,
        RequestTimeout,
        UnsupportedMediaType,
        RequestHeaderFieldsTooLarge,
        TooManyRequests,
        ServiceUnavailable,
    )
}


class InjectedFault(ApiError):
    """A status rule fired: its status, in the error format, rendered by the one handler."""

    def __init__(self, rule: FaultRule) -> None:
        assert rule.status_code is not None
        status = rule.status_code
        known = _KNOWN.get(status)
        phrase = http.HTTPStatus(status).phrase if status in _PHRASES else "Error"
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="protimeapi"'
        super().__init__(
            known.default_message if known else phrase,
            reasons=[f"Answered by the sandbox's fault rule {rule.id} (docs/sandbox.md, Faults)"],
            headers=headers,
        )
        self.status_code = status
        self.code = known.code if known else phrase.title().replace(" ", "").replace("-", "")


_PHRASES = frozenset(status.value for status in http.HTTPStatus)
