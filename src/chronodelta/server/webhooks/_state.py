"""A webhook's delivery state, changed by pure functions (the house style of sync/_state).

The vendor publishes no retry schedule (contract, "Webhooks": "Not published by the
vendor: ... the retry schedule"); issue 12 asks for exponential backoff with jitter,
``CHRONODELTA_WEBHOOK_RETRIES`` attempts after the first, starting at
``CHRONODELTA_WEBHOOK_BACKOFF_SECONDS``, and the webhook ``Disabled`` when they run out
or once past ``validUntil``. Delivery is in ``changeVersion`` order per webhook, so the
state is that of the webhook's oldest pending event: the next waits until it is done.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

# No single wait longer than this, however many failures came before.
MAX_BACKOFF_SECONDS = 3600.0


class WebhookStatus(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int  # attempts after the first
    backoff_seconds: float  # the wait after the first failure, before jitter


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """``failed_attempts``: of the oldest pending event; it is next tried at ``next_attempt_at``."""

    status: WebhookStatus
    failed_attempts: int
    next_attempt_at: dt.datetime
    disabled_reason: str | None = None


def retry_delay(failures: int, policy: RetryPolicy, jitter: float) -> float:
    """Seconds to wait after the ``failures``-th failure of one event (1 for the first).

    Exponential: base, 2 x base, 4 x base, ... capped at an hour; ``jitter`` in [0, 1)
    spreads each wait over its upper half ("equal jitter"), so that many webhooks
    failing together (a receiver restarting) do not come back in step.
    """
    if failures < 1:
        raise ValueError("retry_delay counts failures from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter is a fraction in [0, 1)")
    full = min(policy.backoff_seconds * 2.0 ** min(failures - 1, 60), MAX_BACKOFF_SECONDS)
    return full / 2.0 + full / 2.0 * jitter


def delivered(state: DeliveryState, now: dt.datetime) -> DeliveryState:
    """The oldest event was delivered: the next one may go at once."""
    return replace(state, failed_attempts=0, next_attempt_at=now)


def failed(
    state: DeliveryState, now: dt.datetime, policy: RetryPolicy, jitter: float, error: str
) -> DeliveryState:
    """An attempt failed: retry later, or disable once the retries have run out."""
    failures = state.failed_attempts + 1
    if failures > policy.retries:
        reason = f"{failures} attempts of one event failed; the last: {error}"
        return disabled(replace(state, failed_attempts=failures), reason[:300])
    wait = dt.timedelta(seconds=retry_delay(failures, policy, jitter))
    return replace(state, failed_attempts=failures, next_attempt_at=now + wait)


def disabled(state: DeliveryState, reason: str) -> DeliveryState:
    """Disabled for good (contract: "reusing a disabled or expired webhook is not supported")."""
    return replace(state, status=WebhookStatus.DISABLED, disabled_reason=reason)


def expire(state: DeliveryState, valid_until: dt.datetime, now: dt.datetime) -> DeliveryState:
    """Disabled once past ``validUntil`` (contract, "Webhooks"); otherwise unchanged."""
    if state.status is WebhookStatus.ENABLED and now >= valid_until:
        return disabled(state, "validUntil has passed")
    return state
