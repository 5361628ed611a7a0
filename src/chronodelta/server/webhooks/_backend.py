"""Webhook management: register, list, read, delete, and the delivery log (no HTTP here).

Contract, "Webhooks": ``POST /webhooks`` answers the webhook and its private key, "not
retrievable after creation"; ``DELETE`` is a soft delete ("you can still query
debugging endpoints after deletion"); status ``Enabled`` or ``Disabled``, and a
disabled webhook is never enabled again. Every operation takes the caller's tenant id
and filters on it. Registration and deletion take the tenant's write lock
(``write_transaction``), so every change committed after a 201 has its events, and
none is added after a DELETE's answer.

Issue 13, item 1: ``validUntil`` is the tenant's time (``server/clock``): given at
registration as the tenant's now plus the lifetime, and past once the tenant's clock
is, so ``clock advance`` past it shows the webhook ``Disabled``.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import (
    CollectionFilterSpec,
    FieldKind,
    FilterCriteria,
    FilterError,
    FilterField,
    compile_filter,
    format_external_references,
)
from chronodelta.server._clock import as_utc, utc_now
from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server.clock._store import read_clock
from chronodelta.server.references._lookup import checked_references
from chronodelta.server.webhooks._destinations import DestinationRefused, check_registration
from chronodelta.server.webhooks._outbox import subscribable_collections
from chronodelta.server.webhooks._state import WebhookStatus
from chronodelta.storage import read_transaction, tables, write_transaction

webhooks = tables.webhooks
deliveries = tables.webhook_deliveries
Wire = dict[str, Any]
# Contract: "Errors: 400 Invalid destination URL or unknown collection name".
INVALID = "Invalid destination URL or unknown collection name"
# The delivery log answers the latest attempts, this many at most.
DELIVERY_LOG_LIMIT = 1000
# Contract, "Webhooks": GET /webhooks "filters on status and collection name".
WEBHOOKS_FILTER = CollectionFilterSpec(
    "webhooks",
    (
        FilterField("status", FieldKind.MULTIPLE, str, frozenset(s.value for s in WebhookStatus)),
        FilterField(
            "collectionName", FieldKind.MULTIPLE, str, frozenset(subscribable_collections())
        ),
    ),
)


def new_signing_key() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_filter(text: str | None) -> FilterCriteria:
    try:
        return compile_filter(text, WEBHOOKS_FILTER, mode="list", today=dt.date.today())
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None


class WebhookBackend:
    def __init__(self, engine: Engine, *, lifetime_seconds: int, allow_private: bool) -> None:
        self.engine = engine
        self.lifetime = dt.timedelta(seconds=lifetime_seconds)
        self.allow_private = allow_private

    def create(
        self,
        tenant_id: int,
        client_id: str,
        destination_url: str,
        collection: str,
        references: str | None,
    ) -> Wire:
        """A new, enabled webhook, with its signing key (shown this once)."""
        if collection not in subscribable_collections():
            raise BadRequest(
                INVALID,
                [
                    f"collectionName {collection!r} is not a delta collection of this server; "
                    f"one of: {', '.join(subscribable_collections())}"
                ],
            )
        try:
            check_registration(destination_url, allow_private=self.allow_private)
        except DestinationRefused as exc:
            raise BadRequest(INVALID, [str(exc)]) from None
        row = {
            "id": str(uuid.uuid4()),
            "tenant_id": tenant_id,
            "client_id": client_id,
            "collection": collection,
            "destination_url": destination_url,
            "signing_key": new_signing_key(),
            "status": WebhookStatus.ENABLED.value,
            "created_at": utc_now(),
            "failed_attempts": 0,
            "next_attempt_at": utc_now(),
        }
        with write_transaction(self.engine, tenant_id) as tx:
            now = read_clock(tx.connection, tenant_id).now()
            row["valid_until"] = now + self.lifetime
            pairs = checked_references(tx.connection, tenant_id, collection, references)
            row["external_references"] = format_external_references(pairs)
            tx.connection.execute(webhooks.insert().values(row))
            stored = tx.connection.execute(
                sa.select(webhooks).where(webhooks.c.id == row["id"])
            ).one()
        return {**_to_wire(stored, now), "signingKey": stored.signing_key}

    def list(
        self, tenant_id: int, criteria: FilterCriteria, readable: Collection[str]
    ) -> list[Wire]:
        """The tenant's webhooks (not deleted) of the ``readable`` collections."""
        with read_transaction(self.engine) as connection:
            now = read_clock(connection, tenant_id).now()
            rows = connection.execute(
                sa.select(webhooks)
                .where(*_live(tenant_id), webhooks.c.collection.in_(sorted(readable)))
                .order_by(webhooks.c.created_at, webhooks.c.id)
            ).all()
        found = [_to_wire(row, now) for row in rows]
        statuses = criteria.get("status")
        names = criteria.get("collectionName")
        return [
            w
            for w in found
            if (statuses is None or w["status"] in statuses)
            and (names is None or w["collectionName"] in names)
        ]

    def get(self, tenant_id: int, webhook_id: str, readable: Collection[str]) -> Wire:
        with read_transaction(self.engine) as connection:
            row = _find(connection, tenant_id, webhook_id, readable, deleted=False)
            now = read_clock(connection, tenant_id).now()
        return _to_wire(row, now)

    def delete(self, tenant_id: int, webhook_id: str, readable: Collection[str]) -> None:
        """Soft delete: no more events or deliveries; the log stays."""
        with write_transaction(self.engine, tenant_id) as tx:
            _find(tx.connection, tenant_id, webhook_id, readable, deleted=False)
            tx.connection.execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id)
                .values(deleted_at=utc_now(), lease_owner=None, lease_until=None)
            )
            tx.connection.execute(
                tables.webhook_outbox.delete().where(
                    tables.webhook_outbox.c.webhook_id == webhook_id
                )
            )

    def deliveries(self, tenant_id: int, webhook_id: str, readable: Collection[str]) -> Wire:
        """The latest delivery attempts, oldest first; deleted webhooks' too."""
        with read_transaction(self.engine) as connection:
            _find(connection, tenant_id, webhook_id, readable, deleted=True)
            rows = connection.execute(
                sa.select(deliveries)
                .where(deliveries.c.webhook_id == webhook_id)
                .order_by(deliveries.c.id.desc())
                .limit(DELIVERY_LOG_LIMIT)
            ).all()
        return {"value": [_delivery_wire(row) for row in reversed(rows)]}


def _live(tenant_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (webhooks.c.tenant_id == tenant_id, webhooks.c.deleted_at.is_(None))


def _find(
    connection: sa.Connection,
    tenant_id: int,
    webhook_id: str,
    readable: Collection[str],
    *,
    deleted: bool,
) -> Any:
    conditions = [webhooks.c.tenant_id == tenant_id, webhooks.c.id == webhook_id]
    if not deleted:
        conditions.append(webhooks.c.deleted_at.is_(None))
    row = connection.execute(sa.select(webhooks).where(*conditions)).first()
    if row is None or row.collection not in readable:
        raise NotFound(f"No webhook with id {webhook_id}")
    return row


def effective_status(row: Any, now: dt.datetime) -> WebhookStatus:
    """Disabled once past validUntil even before a deliverer has noticed (contract)."""
    if row.status == WebhookStatus.ENABLED.value and as_utc(row.valid_until) <= now:
        return WebhookStatus.DISABLED
    return WebhookStatus(row.status)


def _to_wire(row: Any, now: dt.datetime) -> Wire:
    status = effective_status(row, now)
    wire: Wire = {
        "id": row.id,
        "validUntil": as_utc(row.valid_until).isoformat(timespec="seconds"),
        "status": status.value,
        "destinationUrl": row.destination_url,
        "collectionName": row.collection,
        "externalReferences": row.external_references or None,
    }
    if status is WebhookStatus.DISABLED:
        wire["disabledReason"] = row.disabled_reason or "validUntil has passed"
    return wire


def _delivery_wire(row: Any) -> Wire:
    return {
        "eventId": row.event_id,
        "changeVersion": f"{row.change_version:020X}",
        "attempt": row.attempt,
        "attemptedAt": as_utc(row.attempted_at).isoformat(timespec="milliseconds"),
        "responseStatus": row.response_status,
        "latencyInMilliseconds": row.latency_ms,
        "error": row.error,
    }
