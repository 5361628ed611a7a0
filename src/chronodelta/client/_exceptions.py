"""Every exception the SDK raises, in one hierarchy.

Two questions decide what a caller does with an error, and each is answered by type:

* **Try again later, or not?** ``RetriableError`` means the same call may succeed
  later without any change on the caller's side (the server was busy, down, or
  unreachable). The client has already retried it, with backoff, as often as its
  ``RetryPolicy`` allows before raising. ``FatalError`` means repeating the call as it
  is cannot help: the request, the credentials or the client's state must change first
  (``DeltaExpired`` or ``ContinuationTokenConflict``: start the list or delta again).
* **Did the server answer?** ``ApiError`` is an HTTP error response and carries its
  status and the contract's error body ``{"error": {"code", "message", "reasons"}}``;
  ``TransportError`` means no (complete) response arrived.

::

    ChronodeltaError
    ├── RetriableError
    │   ├── TransportError            connection refused/reset, timeout, dropped response
    │   ├── RateLimited      (ApiError) 429; .retry_after
    │   └── ServerError      (ApiError) 5xx, including 503 maintenance
    └── FatalError
        ├── ClientError      (ApiError) any other 4xx
        │   ├── BadRequest              400 (bad filter, field, token request)
        │   ├── Unauthorized            401 (bad credentials, token refused twice, scope)
        │   ├── Forbidden               403
        │   ├── NotFound                404
        │   ├── Conflict                409 (If-Match did not match; deleted clocking)
        │   │   └── ContinuationTokenConflict  409 on a page: its token cannot be used
        │   └── DeltaExpired            410 (delta expired or superseded: start over)
        └── InvalidResponse             a response outside the contract

``ApiError`` is also a base of ``RateLimited`` and ``ServerError`` (multiple
inheritance), so ``except ApiError`` catches every HTTP error response.

No exception carries a secret: the client secret and access tokens are never put in a
message, and ``str``/``repr`` show the method, URL path, status and error body only.
"""

from __future__ import annotations

from collections.abc import Sequence


class ChronodeltaError(Exception):
    """Base of every error the SDK raises."""


class RetriableError(ChronodeltaError):
    """The call may succeed later unchanged; the client's own retries ran out first."""


class FatalError(ChronodeltaError):
    """Repeating the call unchanged will not help."""


class TransportError(RetriableError):
    """No complete HTTP response: connection refused or reset, timeout, protocol error.

    ``maybe_applied`` is True when the request may have reached the server before the
    failure (a read timeout, a dropped response). The client never retries such a
    failure for a non-idempotent request (``POST``), so a caller that creates a
    clocking must check whether it exists before trying again.
    """

    def __init__(self, message: str, *, method: str, url: str, maybe_applied: bool) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.maybe_applied = maybe_applied

    def __str__(self) -> str:
        return f"{self.message} [{self.method} {self.url}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, method={self.method!r}, url={self.url!r})"


class ApiError(ChronodeltaError):
    """An HTTP error response, with the contract's error body when the server sent one.

    ``code``, ``message`` and ``reasons`` come from ``{"error": {...}}``; an OAuth2 token
    error (``{"error": "invalid_client", "error_description": ...}``) fills ``code`` and
    ``message`` too. A body that is neither leaves ``code`` as the HTTP reason phrase.
    ``url`` is the request's path and query (no host, never a credential).
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        reasons: Sequence[str] = (),
        *,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.reasons: tuple[str, ...] = tuple(reasons)
        self.method = method
        self.url = url

    def __str__(self) -> str:
        text = f"{self.status_code} {self.code}: {self.message}"
        if self.reasons:
            text += " (" + "; ".join(self.reasons) + ")"
        if self.method:
            text += f" [{self.method} {self.url}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, reasons={self.reasons!r})"
        )


class ServerError(ApiError, RetriableError):
    """5xx: the server failed or is in maintenance (503)."""


class RateLimited(ApiError, RetriableError):
    """429 Too Many Requests; ``retry_after`` is the server's ``Retry-After`` in seconds."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        reasons: Sequence[str] = (),
        *,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, code, message, reasons, method=method, url=url)
        self.retry_after = retry_after


class ClientError(ApiError, FatalError):
    """A 4xx other than 429: the request must change before it can succeed."""


class BadRequest(ClientError):
    """400: an invalid filter, field, body or token request; ``reasons`` say what."""


class Unauthorized(ClientError):
    """401: credentials refused, a token refused even after a refresh, or a missing scope."""


class Forbidden(ClientError):
    """403."""


class NotFound(ClientError):
    """404: no record with this id in the tenant."""


class Conflict(ClientError):
    """409: ``If-Match`` named another version, or the clocking is deleted."""


class ContinuationTokenConflict(Conflict):
    """409 "Continuation token conflict" on a page of a list or of a delta's snapshot:
    its ``continuationToken`` is invalid or expired (contract, "Fidelity", "Paging").

    The link will not work again; start the list (or the delta) again from its first
    page. chronodelta's tokens do not expire, the vendor's may.
    """


class DeltaExpired(ClientError):
    """410 Gone: the delta expired (72 hours without a request) or was superseded.

    Its links will never work again; start a new delta (seed 000, step 4). ``reasons``
    carry the server's explanation.
    """


class InvalidResponse(FatalError):
    """A response outside the contract: not JSON, a missing ``Location`` or link, ..."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    def __str__(self) -> str:
        return f"{self.message} [{self.method} {self.url}]" if self.method else self.message


_BY_STATUS: dict[int, type[ClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: DeltaExpired,
}


def error_class(status_code: int, *, paging: bool = False) -> type[ApiError]:
    """The exception type for an HTTP error status (400 and up); ``paging``: the
    request carried a ``continuationToken``, so a 409 is about that token."""
    if status_code == 409 and paging:
        return ContinuationTokenConflict
    if status_code == 429:
        return RateLimited
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, ClientError)
