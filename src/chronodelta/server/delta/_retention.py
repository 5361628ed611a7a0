"""Retention: forget expired deltas and the change history no live delta needs.

Contract, "Delta": a delta expires 72 hours after its last request and its data is
deleted. What a live delta can still need is every departure after the oldest cursor
it handed out (``first_cursor``: links are cursors, so a client may replay any of
them), and the commit marks of the overlap window for deltas started from now on.
Everything older goes. It is idempotent, so every worker process may run it.

It also deletes the token endpoint's counters of past windows (issue 10, item 8):
only the current window counts, and without this the table kept a row per key ever
counted, across restarts. And, given a ``WebhookRetention``, the webhook delivery log
and ended webhooks past their retention (``webhooks/_retention.py``).

Issue 13, item 1: a delta expires in its tenant's time (``server/clock``): ``now`` is
the wall clock, and each tenant's deltas are judged at that tenant's time then. The
change history's window is wall time, as the commit marks are.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._periodic import PeriodicJob
from chronodelta.server.auth._limits import forget_windows_before, window_start
from chronodelta.server.clock._store import read_clock
from chronodelta.server.delta._tracker import recorded_use_slack
from chronodelta.server.webhooks._retention import WebhookRetention, forget_webhook_history
from chronodelta.storage import plain_write_transaction, tables

log = logging.getLogger("chronodelta.retention")


@dataclass(frozen=True)
class RetentionReport:
    deltas: int
    departures: int
    change_marks: int
    token_windows: int = 0
    webhooks: int = 0
    webhook_deliveries: int = 0


def run_retention(
    engine: Engine,
    *,
    ttl: dt.timedelta,
    overlap: dt.timedelta,
    now: dt.datetime,
    webhooks: WebhookRetention | None = None,
) -> RetentionReport:
    """One pass; a transaction for the expired deltas and the token counters, then one per tenant.

    Short transactions: on SQLite every write holds the database's one write lock, and
    a pass over all tenants in one transaction would keep API writers waiting.
    """
    deltas = tables.deltas
    expired = 0
    with plain_write_transaction(engine) as connection:
        tenant_ids = list(connection.scalars(sa.select(tables.tenants.c.id)))
        for tenant_id in tenant_ids:
            tenant_now = read_clock(connection, tenant_id).at(now)
            expired += connection.execute(
                # The recorded last use may lag the real one by the slack (_tracker._touch).
                deltas.delete().where(
                    deltas.c.tenant_id == tenant_id,
                    deltas.c.last_used_at < tenant_now - ttl - recorded_use_slack(ttl),
                )
            ).rowcount
    with plain_write_transaction(engine) as connection:
        token_windows = forget_windows_before(connection, window_start(now.timestamp()))
    removed_departures = removed_marks = 0
    for tenant_id in tenant_ids:
        with plain_write_transaction(engine) as connection:
            departures, marks = _forget_tenant_history(connection, tenant_id, now - overlap)
        removed_departures += departures
        removed_marks += marks
    hooks = forget_webhook_history(engine, webhooks, now) if webhooks is not None else None
    return RetentionReport(
        expired,
        removed_departures,
        removed_marks,
        token_windows,
        hooks.webhooks if hooks else 0,
        hooks.deliveries if hooks else 0,
    )


def _forget_tenant_history(
    connection: sa.Connection, tenant_id: int, window_start: dt.datetime
) -> tuple[int, int]:
    """Departures and commit marks no live delta of the tenant can still read."""
    marks = tables.change_marks
    window_cursor = int(
        connection.scalar(
            sa.select(sa.func.max(marks.c.change_version)).where(
                marks.c.tenant_id == tenant_id, marks.c.committed_at < window_start
            )
        )
        or 0
    )
    departures = _forget_departures(connection, tenant_id, window_cursor)
    removed_marks = connection.execute(
        marks.delete().where(marks.c.tenant_id == tenant_id, marks.c.change_version < window_cursor)
    ).rowcount
    return departures, removed_marks


def _forget_departures(connection: sa.Connection, tenant_id: int, window_cursor: int) -> int:
    """Departures at or below every live cursor of their collection are never read again."""
    deltas, departures = tables.deltas, tables.departures
    collections = connection.scalars(
        sa.select(departures.c.collection).where(departures.c.tenant_id == tenant_id).distinct()
    ).all()
    removed = 0
    for collection in collections:
        oldest_live = connection.scalar(
            sa.select(sa.func.min(deltas.c.first_cursor)).where(
                deltas.c.tenant_id == tenant_id,
                deltas.c.collection == collection,
                deltas.c.status == "active",
            )
        )
        horizon = window_cursor if oldest_live is None else min(window_cursor, int(oldest_live))
        removed += connection.execute(
            departures.delete().where(
                departures.c.tenant_id == tenant_id,
                departures.c.collection == collection,
                departures.c.change_version <= horizon,
            )
        ).rowcount
    return removed


class RetentionThread(PeriodicJob):
    """Runs retention every ``interval`` seconds in the background of a server process."""

    thread_name = "chronodelta-retention"

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: dt.timedelta,
        overlap: dt.timedelta,
        interval: float,
        webhooks: WebhookRetention | None = None,
    ) -> None:
        super().__init__(interval)
        self._engine, self._ttl, self._overlap = engine, ttl, overlap
        self._webhooks = webhooks

    def run_once(self) -> None:
        report = run_retention(
            self._engine,
            ttl=self._ttl,
            overlap=self._overlap,
            now=dt.datetime.now(dt.UTC),
            webhooks=self._webhooks,
        )
        log.info("retention: %s", report)
