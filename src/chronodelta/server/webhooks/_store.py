"""The deliverer's transactions: claim due webhooks, read the next event, record attempts.

Each is short and holds no lock across a network call. A claim is a lease on the
webhook row (``lease_owner``, ``lease_until``): on PostgreSQL the due rows are picked
with ``FOR UPDATE SKIP LOCKED``, so workers claiming at once take different webhooks and
never wait for each other; on SQLite the write lock serializes claims. Only the lease
holder delivers, oldest event first, so each event is in flight in one worker at a time
and a webhook's events go out in ``changeVersion`` order. A worker that dies leaves its
lease to run out (``lease``, longer than an attempt may take), and another goes on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import as_utc, utc_now
from chronodelta.server.clock._store import read_clock
from chronodelta.server.webhooks._state import (
    DeliveryState,
    RetryPolicy,
    WebhookStatus,
    delivered,
    expire,
    failed,
)
from chronodelta.storage import is_postgresql, plain_write_transaction, read_transaction, tables

webhooks = tables.webhooks
outbox = tables.webhook_outbox
deliveries = tables.webhook_deliveries


@dataclass(frozen=True, slots=True)
class Claimed:
    """A webhook this worker holds the lease of."""

    id: str
    destination_url: str
    signing_key: str
    valid_until: dt.datetime
    state: DeliveryState


@dataclass(frozen=True, slots=True)
class Event:
    outbox_id: int
    event_id: str
    change_version: int
    payload: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST's outcome: ``status`` when an answer came, ``error`` when it failed."""

    status: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _state(row: Any) -> DeliveryState:
    return DeliveryState(
        WebhookStatus(row.status),
        row.failed_attempts,
        as_utc(row.next_attempt_at),
        row.disabled_reason,
    )


def _state_values(state: DeliveryState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "failed_attempts": state.failed_attempts,
        "next_attempt_at": state.next_attempt_at,
        "disabled_reason": state.disabled_reason,
    }


def claim_due(engine: Engine, owner: str, limit: int, lease: dt.timedelta) -> list[Claimed]:
    """Lease up to ``limit`` enabled webhooks that have a pending event due now."""
    now = utc_now()
    with plain_write_transaction(engine) as connection:
        _disable_expired(connection, now)
        pending = sa.exists().where(outbox.c.webhook_id == webhooks.c.id)
        query = (
            sa.select(webhooks)
            .where(
                webhooks.c.status == WebhookStatus.ENABLED.value,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.next_attempt_at <= now,
                sa.or_(webhooks.c.lease_until.is_(None), webhooks.c.lease_until < now),
                pending,
            )
            .order_by(webhooks.c.next_attempt_at)
            .limit(limit)
        )
        if is_postgresql(engine):
            query = query.with_for_update(skip_locked=True, of=webhooks)
        rows = connection.execute(query).all()
        if rows:
            connection.execute(
                webhooks.update()
                .where(webhooks.c.id.in_([row.id for row in rows]))
                .values(lease_owner=owner, lease_until=now + lease)
            )
    return [
        Claimed(r.id, r.destination_url, r.signing_key, as_utc(r.valid_until), _state(r))
        for r in rows
    ]


def _disable_expired(connection: sa.Connection, now: dt.datetime) -> None:
    """Contract: a webhook is Disabled "past validUntil"; its pending events go.

    validUntil is its tenant's time (issue 13, item 1): tenants whose clock an operator
    moved (a few rows) are judged at their own time, the others at ``now``.
    """
    clocked = list(connection.scalars(sa.select(tables.tenant_clocks.c.tenant_id)))
    moments = [
        (webhooks.c.tenant_id.not_in(clocked), now),
        *((webhooks.c.tenant_id == t, read_clock(connection, t).at(now)) for t in clocked),
    ]
    expired = [
        webhook_id
        for condition, moment in moments
        for webhook_id in connection.scalars(
            sa.select(webhooks.c.id)
            .where(
                condition,
                webhooks.c.status == WebhookStatus.ENABLED.value,
                webhooks.c.deleted_at.is_(None),
                webhooks.c.valid_until <= moment,
            )
            .limit(100)
        )
    ]
    if expired:
        connection.execute(
            webhooks.update()
            .where(webhooks.c.id.in_(expired))
            .values(status=WebhookStatus.DISABLED.value, disabled_reason="validUntil has passed")
        )
        connection.execute(outbox.delete().where(outbox.c.webhook_id.in_(expired)))


def next_event(engine: Engine, webhook_id: str, owner: str) -> Event | None:
    """The webhook's oldest pending event, while this worker still holds its lease."""
    with read_transaction(engine) as connection:
        row = connection.execute(
            sa.select(outbox.c.id, outbox.c.event_id, outbox.c.change_version, outbox.c.payload)
            .join(webhooks, webhooks.c.id == outbox.c.webhook_id)
            .where(
                outbox.c.webhook_id == webhook_id,
                webhooks.c.lease_owner == owner,
                webhooks.c.status == WebhookStatus.ENABLED.value,
                webhooks.c.deleted_at.is_(None),
            )
            .order_by(outbox.c.id)
            .limit(1)
        ).first()
    return None if row is None else Event(row.id, row.event_id, row.change_version, row.payload)


def record_attempt(
    engine: Engine,
    claimed: Claimed,
    owner: str,
    event: Event,
    attempt: Attempt,
    *,
    policy: RetryPolicy,
    jitter: float,
    lease: dt.timedelta,
) -> DeliveryState | None:
    """Log ``attempt`` and move the webhook's state on; the new state, or None when the
    lease was lost (deleted, or taken over after it ran out): the worker stops."""
    now = utc_now()
    with plain_write_transaction(engine) as connection:
        query = sa.select(webhooks).where(webhooks.c.id == claimed.id)
        if is_postgresql(engine):
            query = query.with_for_update()
        row = connection.execute(query).one()
        connection.execute(
            deliveries.insert().values(_log_row(claimed.id, event, attempt, row, now))
        )
        if row.lease_owner != owner or row.deleted_at is not None:
            return None
        state = _state(row)
        if attempt.ok:
            state = delivered(state, now)
            connection.execute(outbox.delete().where(outbox.c.id == event.outbox_id))
        else:
            state = failed(state, now, policy, jitter, attempt.error or "failed")
        state = expire(state, claimed.valid_until, read_clock(connection, row.tenant_id).at(now))
        keep = state.status is WebhookStatus.ENABLED and attempt.ok
        if state.status is WebhookStatus.DISABLED:
            connection.execute(outbox.delete().where(outbox.c.webhook_id == claimed.id))
        lease_values: dict[str, Any] = (
            {"lease_until": now + lease} if keep else {"lease_owner": None, "lease_until": None}
        )
        connection.execute(
            webhooks.update()
            .where(webhooks.c.id == claimed.id)
            .values(**_state_values(state), **lease_values)
        )
    return state


def _log_row(
    webhook_id: str, event: Event, attempt: Attempt, row: Any, now: dt.datetime
) -> dict[str, Any]:
    return {
        "webhook_id": webhook_id,
        "event_id": event.event_id,
        "change_version": event.change_version,
        "attempt": row.failed_attempts + 1,
        "attempted_at": now,
        "response_status": attempt.status,
        "latency_ms": attempt.latency_ms,
        "error": None if attempt.error is None else attempt.error[:500],
    }


def release(engine: Engine, webhook_id: str, owner: str) -> None:
    """Give the lease back (no pending event left, or the worker is stopping)."""
    with plain_write_transaction(engine) as connection:
        connection.execute(
            webhooks.update()
            .where(webhooks.c.id == webhook_id, webhooks.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
