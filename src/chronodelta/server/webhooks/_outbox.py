"""The durable outbox: every committed change becomes events, in its own transaction.

Contract, "Webhooks": "An event has the shape of a delta item: ``changeType`` and the
data with its ``changeVersion``; one action can raise events in several collections (a
clocking recalculates totals)". Issue 12, item 2: events are written "in the same
transaction as the change, so a crash after commit loses none".

One hook does it for every collection: ``storage`` calls ``write_events`` in each write
transaction that used change versions, with the versions it used. Whatever wrote them
(a clocking route, the totals it recalculated, reference data, a later collection in
``TRACKED``), the rows of the subscribed collections that carry one of those versions
are the changed records, and removal departures at those versions are the deletes.
So no writer has to remember the webhooks, and none can forget them.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy as sa

from chronodelta.domain import format_change_version, parse_external_references
from chronodelta.server._clock import utc_now
from chronodelta.server.clock._store import read_clock
from chronodelta.server.records._serialize import Wire
from chronodelta.server.records._tracked import TRACKED, TrackedCollection
from chronodelta.server.references._lookup import add_external_references
from chronodelta.server.webhooks._state import WebhookStatus
from chronodelta.storage import WriteTransaction, tables

webhooks = tables.webhooks
outbox = tables.webhook_outbox
departures = tables.departures

# Run once per write: the tenant's live subscriptions, on a small indexed table.
_LIVE = sa.select(webhooks.c.id, webhooks.c.collection, webhooks.c.external_references).where(
    webhooks.c.tenant_id == sa.bindparam("tenant"),
    webhooks.c.status == WebhookStatus.ENABLED.value,
    webhooks.c.deleted_at.is_(None),
    webhooks.c.valid_until > sa.bindparam("now"),
)
# Whether the tenant has any, before its clock is read (most writes have none); also
# the probe a late write evaluates under its version lock (``storage._seal``).
ANY_SUBSCRIPTION = _ANY = (
    sa.select(webhooks.c.id)
    .where(
        webhooks.c.tenant_id == sa.bindparam("tenant"),
        webhooks.c.status == WebhookStatus.ENABLED.value,
        webhooks.c.deleted_at.is_(None),
    )
    .limit(1)
)
_wakers: list[Callable[[], None]] = []


def subscribable_collections() -> list[str]:
    """Issue 12, item 1: "Every delta collection the server serves can be subscribed"."""
    return sorted(TRACKED)


def on_new_events(wake: Callable[[], None]) -> None:
    """Call ``wake`` after each commit that added events (a deliverer of this process)."""
    _wakers.append(wake)


def stop_waking(wake: Callable[[], None]) -> None:
    if wake in _wakers:
        _wakers.remove(wake)


def write_events(tx: WriteTransaction, first: int, last: int) -> None:
    """Add to the outbox one event per subscribed change with a version in [first, last]."""
    connection = tx.connection
    if connection.execute(_ANY, {"tenant": tx.tenant_id}).first() is None:
        return
    # validUntil is the tenant's time (issue 13, item 1).
    tenant_now = read_clock(connection, tx.tenant_id).now()
    live = connection.execute(_LIVE, {"tenant": tx.tenant_id, "now": tenant_now}).all()
    if not live:
        return
    rows: list[dict[str, Any]] = []
    now = utc_now()
    by_kind = sorted(live, key=lambda w: (w.collection, w.external_references))
    for (collection, references), group in itertools.groupby(
        by_kind, key=lambda w: (w.collection, w.external_references)
    ):
        tracked = TRACKED.get(collection)
        if tracked is None:
            continue  # a collection this build no longer serves
        changes = changed_records(connection, tracked, tx.tenant_id, first, last, references)
        for hook in group:
            rows += [_outbox_row(hook.id, collection, change, now) for change in changes]
    if rows:
        connection.execute(outbox.insert(), rows)
        tx.after_commit(_wake_deliverers)


def changed_records(
    connection: sa.Connection,
    tracked: TrackedCollection,
    tenant_id: int,
    first: int,
    last: int,
    references: str,
) -> list[tuple[int, str, Wire]]:
    """(version, changeType, data) of ``tracked``'s changes in [first, last], in order."""
    table = tracked.table
    rows = connection.execute(
        sa.select(*tracked.columns).where(
            table.c.tenant_id == tenant_id, table.c.change_version.between(first, last)
        )
    ).all()
    wires = [tracked.to_wire(row) for row in rows]
    if references and wires:
        pairs = parse_external_references(references, tracked.name)
        add_external_references(connection, tenant_id, tracked.name, pairs, wires)
    found = [(int(w["changeVersion"], 16), "InsertOrUpdate", w) for w in wires]
    found += [
        (version, "Delete", _deleted(record_id, version))
        for record_id, version in _removals(connection, tracked.name, tenant_id, first, last)
    ]
    return sorted(found, key=lambda change: change[0])


def _removals(
    connection: sa.Connection, collection: str, tenant_id: int, first: int, last: int
) -> list[tuple[int, int]]:
    """(id, version) of records removed for good (a purged clocking, a total that no
    longer follows)."""
    rows = connection.execute(
        sa.select(departures.c.record_id, departures.c.change_version).where(
            departures.c.tenant_id == tenant_id,
            departures.c.collection == collection,
            departures.c.removed.is_(True),
            departures.c.change_version.between(first, last),
        )
    ).all()
    return [(int(row.record_id), int(row.change_version)) for row in rows]


def _deleted(record_id: int, version: int) -> Wire:
    # Contract, "Delta": "Delete carries changeVersion and id".
    return {"changeVersion": format_change_version(version), "id": record_id}


def _outbox_row(
    webhook_id: str, collection: str, change: tuple[int, str, Wire], now: Any
) -> dict[str, Any]:
    version, change_type, data = change
    payload = {
        "webhookId": webhook_id,
        "collectionName": collection,
        "changeType": change_type,
        "data": data,
    }
    return {
        "webhook_id": webhook_id,
        "event_id": f"msg_{uuid.uuid4().hex}",
        "change_version": version,
        "payload": orjson.dumps(payload).decode(),
        "created_at": now,
    }


def _wake_deliverers() -> None:
    for wake in list(_wakers):
        wake()
