"""When to try a request again, and how long to wait first (no I/O, no clock).

What is retried (``retry_delay``):

* **Connection failures before the request left** (connection refused, connect or
  pool timeout): always, whatever the method, since the server never saw it.
* **Other transport failures** (read/write timeout, connection reset, a response cut
  off): only for idempotent methods (GET, PUT, DELETE, ...). For ``POST`` the server
  may have created the clocking before the answer was lost; repeating it could create
  a second one, so the client raises ``TransportError(maybe_applied=True)`` and the
  caller decides.
* **429 and 503**: always, even for ``POST``: the server answers them without doing
  the work (rate limit; maintenance, RFC 9110 "currently unable to handle").
* **Other 5xx**: idempotent methods only (a 500 or 504 after a ``POST`` is ambiguous).
* **Never any other 4xx**: the same request would fail the same way.

How long: the server's ``Retry-After`` (delta-seconds) when it sends one, exactly; a
value above ``max_retry_after`` is not waited for (the error is raised, with
``retry_after`` on ``RateLimited``). Otherwise exponential backoff with "equal jitter":
retry ``n`` waits a random time in ``[c/2, c]`` with ``c = min(max_delay, base_delay *
2**(n-1))``; the floor keeps a real pause, the spread keeps many clients from retrying
in step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Raised before a byte of the request was sent: safe to repeat for any method.
NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# May have happened after the server received the request.
RETRIABLE_TRANSPORT: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
REFUSED_WITHOUT_WORK = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts a call gets and how long to wait between them.

    ``max_attempts`` counts the first try (1 disables retries). Delays are seconds.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay <= self.max_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must not be negative")

    def backoff(self, retry: int, random: float) -> float:
        """The wait before retry number ``retry`` (1 is the first), ``random`` in [0, 1)."""
        ceiling: float = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling / 2 + ceiling / 2 * random


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as delta-seconds; None if absent or not a number (HTTP dates too)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def retry_delay(
    policy: RetryPolicy,
    *,
    attempt: int,
    method: str,
    outcome: httpx.Response | httpx.TransportError,
    random: float,
) -> float | None:
    """Seconds to wait before another attempt, or None to stop with ``outcome``.

    ``attempt`` is the number of the attempt that produced ``outcome`` (1 for the first).
    """
    if attempt >= policy.max_attempts:
        return None
    idempotent = method in IDEMPOTENT_METHODS
    if isinstance(outcome, httpx.TransportError):
        if isinstance(outcome, NOT_SENT) or (
            idempotent and isinstance(outcome, RETRIABLE_TRANSPORT)
        ):
            return policy.backoff(attempt, random)
        return None
    status = outcome.status_code
    if status in REFUSED_WITHOUT_WORK or (status >= 500 and idempotent):
        retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
        if retry_after is None:
            return policy.backoff(attempt, random)
        return retry_after if retry_after <= policy.max_retry_after else None
    return None
