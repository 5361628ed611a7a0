"""Webhook retention: the delivery log and ended webhooks do not grow without bound.

Contract, "Webhooks": "you can still query debugging endpoints after deletion", so a
deleted webhook's log stays, but not for ever (issue 12, retention). Two settings
(docs/webhooks.md, "Retention"):

* ``CHRONODELTA_WEBHOOK_LOG_RETENTION_SECONDS`` (default 30 days): delivery attempts
  older than this go; so does a webhook deleted, disabled or expired (``validUntil``)
  longer ago than this, with its whole log. Until then ``GET .../deliveries`` answers
  it, deleted or not;
* ``CHRONODELTA_WEBHOOK_LOG_MAX_ATTEMPTS`` (default 1000, what ``GET .../deliveries``
  shows at most): each webhook keeps its latest attempts up to this count.

Run by the retention thread of every server process and by ``chronodelta retention
run`` (``delta/_retention.run_retention``); idempotent, so several processes may run it
at once. Deletes go in chunks, each its own short transaction: on SQLite each holds
the one write lock, which API writers wait for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._settings import Settings
from chronodelta.server.webhooks._state import WebhookStatus
from chronodelta.storage import plain_write_transaction, read_transaction, tables

webhooks = tables.webhooks
deliveries = tables.webhook_deliveries
outbox = tables.webhook_outbox
CHUNK = 5000


@dataclass(frozen=True)
class WebhookRetention:
    """How long the delivery log and ended webhooks are kept, and how many attempts."""

    log_seconds: int = 30 * 86400
    max_attempts: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookRetention:
        return cls(settings.webhook_log_retention_seconds, settings.webhook_log_max_attempts)

    @property
    def period(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.log_seconds)


@dataclass(frozen=True)
class WebhookRetentionReport:
    webhooks: int
    deliveries: int


def forget_webhook_history(
    engine: Engine, retention: WebhookRetention, now: dt.datetime
) -> WebhookRetentionReport:
    """One pass: ended webhooks past the period, old attempts, attempts over the count."""
    cutoff = now - retention.period
    removed_webhooks, removed_log = _forget_ended_webhooks(engine, cutoff)
    removed_log += _delete_in_chunks(engine, deliveries.c.attempted_at < cutoff)
    removed_log += _trim_to_count(engine, retention.max_attempts)
    return WebhookRetentionReport(removed_webhooks, removed_log)


def _ended_before(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """Deleted, disabled or past ``validUntil`` (an expiry no deliverer noticed yet:
    ``CHRONODELTA_WEBHOOK_DELIVERY=false``) before ``cutoff``."""
    return sa.or_(
        webhooks.c.deleted_at < cutoff,
        webhooks.c.disabled_at < cutoff,
        sa.and_(webhooks.c.status == WebhookStatus.ENABLED.value, webhooks.c.valid_until < cutoff),
    )


def _forget_ended_webhooks(engine: Engine, cutoff: dt.datetime) -> tuple[int, int]:
    with read_transaction(engine) as connection:
        ended = list(connection.scalars(sa.select(webhooks.c.id).where(_ended_before(cutoff))))
    removed_log = 0
    for webhook_id in ended:
        removed_log += _delete_in_chunks(engine, deliveries.c.webhook_id == webhook_id)
        with plain_write_transaction(engine) as connection:
            # Checked again in this transaction: nothing brings an ended webhook back
            # (contract: never re-enabled), but another process may have removed it.
            connection.execute(outbox.delete().where(outbox.c.webhook_id == webhook_id))
            connection.execute(
                webhooks.delete().where(webhooks.c.id == webhook_id, _ended_before(cutoff))
            )
    return len(ended), removed_log


def _delete_in_chunks(engine: Engine, condition: sa.ColumnElement[bool]) -> int:
    removed = 0
    while True:
        with plain_write_transaction(engine) as connection:
            chunk = sa.select(deliveries.c.id).where(condition).limit(CHUNK)
            count = connection.execute(
                deliveries.delete().where(deliveries.c.id.in_(chunk.scalar_subquery()))
            ).rowcount
        removed += count
        if count < CHUNK:
            return removed


def _trim_to_count(engine: Engine, keep: int) -> int:
    """Each webhook's attempts beyond its latest ``keep``."""
    with read_transaction(engine) as connection:
        over = list(
            connection.scalars(
                sa.select(deliveries.c.webhook_id)
                .group_by(deliveries.c.webhook_id)
                .having(sa.func.count() > keep)
            )
        )
    removed = 0
    for webhook_id in over:
        with read_transaction(engine) as connection:
            # The newest attempt not kept: it and everything older go.
            boundary = connection.scalar(
                sa.select(deliveries.c.id)
                .where(deliveries.c.webhook_id == webhook_id)
                .order_by(deliveries.c.id.desc())
                .offset(keep)
                .limit(1)
            )
        if boundary is not None:
            removed += _delete_in_chunks(
                engine, sa.and_(deliveries.c.webhook_id == webhook_id, deliveries.c.id <= boundary)
            )
    return removed
