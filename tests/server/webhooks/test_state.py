"""The retry schedule and delivery state (server/webhooks/_state.py), pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from chronodelta.server.webhooks._state import (
    MAX_BACKOFF_SECONDS,
    DeliveryState,
    RetryPolicy,
    WebhookStatus,
    delivered,
    expire,
    failed,
    retry_delay,
)

NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)
POLICY = RetryPolicy(retries=3, backoff_seconds=5.0)
FRESH = DeliveryState(WebhookStatus.ENABLED, 0, NOW)


def test_the_delay_doubles_and_jitter_spreads_the_upper_half() -> None:
    # Issue 12, item 3: exponential backoff with jitter from CHRONODELTA_WEBHOOK_BACKOFF_SECONDS.
    assert [retry_delay(n, POLICY, 0.0) for n in (1, 2, 3, 4)] == [2.5, 5.0, 10.0, 20.0]
    assert [retry_delay(n, POLICY, 0.999999) for n in (1, 2)] == pytest.approx([5.0, 10.0])
    assert retry_delay(200, POLICY, 0.5) == pytest.approx(MAX_BACKOFF_SECONDS * 0.75)
    with pytest.raises(ValueError):
        retry_delay(0, POLICY, 0.0)
    with pytest.raises(ValueError):
        retry_delay(1, POLICY, 1.0)


def test_failures_wait_then_disable_once_the_retries_run_out() -> None:
    state = FRESH
    for n in (1, 2, 3):
        state = failed(state, NOW, POLICY, 0.0, "the receiver answered 500")
        assert state.status is WebhookStatus.ENABLED and state.failed_attempts == n
        assert state.next_attempt_at == NOW + dt.timedelta(seconds=retry_delay(n, POLICY, 0.0))
    state = failed(state, NOW, POLICY, 0.0, "the receiver answered 500")
    assert state.status is WebhookStatus.DISABLED
    assert state.disabled_reason is not None and "4 attempts" in state.disabled_reason


def test_a_delivery_resets_the_count_and_expiry_disables() -> None:
    state = delivered(failed(FRESH, NOW, POLICY, 0.0, "x"), NOW)
    assert (state.failed_attempts, state.next_attempt_at) == (0, NOW)
    assert expire(state, NOW + dt.timedelta(seconds=1), NOW) == state
    gone = expire(state, NOW, NOW)
    assert gone.status is WebhookStatus.DISABLED and gone.disabled_reason == "validUntil has passed"
    # Zero retries: the first failure disables.
    assert failed(FRESH, NOW, RetryPolicy(0, 5.0), 0.0, "x").status is WebhookStatus.DISABLED
