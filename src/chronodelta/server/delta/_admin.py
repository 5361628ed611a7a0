"""The operator's view of a tenant's deltas: list them, expire one (issue 13, item 1).

``chronodelta deltas list/expire`` and ``/admin/tenants/{tenant}/deltas`` call these.
Times are the tenant's (``server/clock``): "time left" is how long the delta lives
without another request, by the tenant's clock. Expiring one deletes it, as expiry
does (``_tracker.forget_delta``): its links answer 410 from the next request, in every
worker, since each request reads the delta's row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import as_utc
from chronodelta.server.clock._store import UnknownResource, read_clock, tenant_id_of
from chronodelta.server.delta._tracker import forget_delta, recorded_use_slack
from chronodelta.storage import read_transaction, tables

deltas = tables.deltas


class UnknownDelta(UnknownResource):
    """No delta of that id in the tenant."""


@dataclass(frozen=True)
class DeltaInfo:
    """A delta as an operator sees it (never a token)."""

    id: int
    tenant: str
    client_id: str
    collection: str
    filter: str
    status: str
    started_on: dt.date
    created_at: dt.datetime
    last_used_at: dt.datetime
    # The tenant's time after which it answers 410, and the seconds until then
    # (0 once past; a superseded delta answers 410 already).
    expires_at: dt.datetime
    seconds_left: float


def list_deltas(engine: Engine, tenant: str, *, ttl: dt.timedelta) -> list[DeltaInfo]:
    """The tenant's deltas, newest first, with their time left in the tenant's time."""
    with read_transaction(engine) as connection:
        tenant_id = tenant_id_of(connection, tenant)
        now = read_clock(connection, tenant_id).now()
        rows = connection.execute(
            sa.select(deltas).where(deltas.c.tenant_id == tenant_id).order_by(deltas.c.id.desc())
        ).all()
    return [_info(tenant, row, now, ttl) for row in rows]


def expire_delta(engine: Engine, tenant: str, delta_id: int) -> None:
    """Expire the tenant's delta ``delta_id`` now: its links answer 410 from now on."""
    with read_transaction(engine) as connection:
        tenant_id = tenant_id_of(connection, tenant)
        found = connection.scalar(
            sa.select(deltas.c.id).where(deltas.c.id == delta_id, deltas.c.tenant_id == tenant_id)
        )
    if found is None or not forget_delta(engine, delta_id):
        raise UnknownDelta(
            f"tenant {tenant!r} has no delta {delta_id} (see: chronodelta deltas list "
            f"--tenant {tenant})"
        )


def _info(tenant: str, row: sa.Row[object], now: dt.datetime, ttl: dt.timedelta) -> DeltaInfo:
    last_used = as_utc(row.last_used_at)
    # _tracker._touch answers 410 once the tenant's time is past this.
    expires_at = last_used + ttl + recorded_use_slack(ttl)
    return DeltaInfo(
        id=row.id,
        tenant=tenant,
        client_id=row.client_id,
        collection=row.collection,
        filter=row.filter_text,
        status=row.status,
        started_on=row.started_on,
        created_at=as_utc(row.created_at),
        last_used_at=last_used,
        expires_at=expires_at,
        seconds_left=max(0.0, (expires_at - now).total_seconds()),
    )
