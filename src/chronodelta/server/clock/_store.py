"""Tenant clocks in the database: read one per request, change them for the operator.

The CLI (``chronodelta clock``) and the admin API call the same functions here; both
write the database, and every worker reads the tenant's row with each request
(``TenantClocks.read``), so a change holds in every worker from the next request on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import utc_now
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.clock._model import (
    MICROSECOND,
    WALL_CLOCK,
    TenantClock,
    advanced,
    clock_from_row,
    reset,
    set_to,
    with_pinned_today,
)
from chronodelta.storage import (
    is_postgresql,
    plain_write_transaction,
    read_statement,
    read_transaction,
    tables,
)

clocks = tables.tenant_clocks


class UnknownResource(AdminError):
    """What an operator's request names does not exist (the admin API answers 404)."""


class UnknownTenant(UnknownResource):
    """No tenant of that name."""


@dataclass(frozen=True)
class ClockInfo:
    """A tenant's clock as an operator sees it."""

    tenant: str
    now: dt.datetime
    today: dt.date
    offset_seconds: float
    frozen: bool
    anchored: bool


# Built once: every API request runs it (building a statement costs more than running it).
_READ = sa.select(clocks.c.offset_microseconds, clocks.c.frozen_at, clocks.c.anchored).where(
    clocks.c.tenant_id == sa.bindparam("tenant")
)


def read_clock(connection: sa.Connection, tenant_id: int) -> TenantClock:
    """The tenant's stored clock (the wall clock when it has no row): one key lookup."""
    row = connection.execute(_READ, {"tenant": tenant_id}).first()
    return _clock_of(None if row is None else tuple(row))


def _clock_of(row: tuple[Any, ...] | None) -> TenantClock:
    """A clock from its row (offset, frozen at, anchored); the wall clock for none."""
    return WALL_CLOCK if row is None else clock_from_row(*row)


class TenantClocks:
    """A worker's way to a tenant's clock: read fresh, never cached (issue 13: a change
    must hold on every worker at once; a copy would have to be waited out)."""

    def __init__(self, engine: Engine, pinned_today: dt.date | None) -> None:
        self._engine = engine
        self._pinned_today = pinned_today

    def read(self, tenant_id: int) -> TenantClock:
        # Every API request makes this read: one statement, in autocommit on PostgreSQL
        # (half the round trips of a read transaction; BENCHMARKS.md, "The tenant
        # clock's read on every request").
        rows = read_statement(self._engine, _READ, {"tenant": tenant_id})
        return with_pinned_today(_clock_of(tuple(rows[0]) if rows else None), self._pinned_today)

    def reading(self, connection: sa.Connection, tenant_id: int) -> TenantClock:
        """``read`` inside a transaction the caller already has open."""
        return with_pinned_today(read_clock(connection, tenant_id), self._pinned_today)

    def read_all(self) -> dict[int, TenantClock]:
        """Every tenant's clock, by tenant id (retention's pass)."""
        with read_transaction(self._engine) as connection:
            ids = list(connection.scalars(sa.select(tables.tenants.c.id)))
            return {tenant_id: self.reading(connection, tenant_id) for tenant_id in ids}


def advance_clock(
    engine: Engine, tenant: str, by: dt.timedelta, *, pinned_today: dt.date | None = None
) -> ClockInfo:
    """Move ``tenant``'s time ``by`` forward (ValueError for a negative duration).

    ``pinned_today`` (``CHRONODELTA_TODAY``) only shapes the answer's ``today``.
    """
    return _change(engine, tenant, lambda clock: advanced(clock, by), pinned_today)


def set_clock(
    engine: Engine,
    tenant: str,
    moment: dt.datetime,
    *,
    frozen: bool = False,
    pinned_today: dt.date | None = None,
) -> ClockInfo:
    """Make ``tenant``'s time ``moment`` now, running on from there (or standing still)."""
    wall_now = utc_now()
    return _change(
        engine, tenant, lambda clock: set_to(clock, moment, wall_now, frozen=frozen), pinned_today
    )


def reset_clock(engine: Engine, tenant: str, *, pinned_today: dt.date | None = None) -> ClockInfo:
    """``tenant`` on the wall clock again."""
    return _change(engine, tenant, reset, pinned_today)


def show_clocks(
    engine: Engine, tenant: str | None = None, *, pinned_today: dt.date | None = None
) -> list[ClockInfo]:
    """The clocks of every tenant (or of ``tenant``), by tenant name."""
    tenants = tables.tenants
    with read_transaction(engine) as connection:
        query = sa.select(tenants.c.id, tenants.c.name).order_by(tenants.c.name)
        if tenant is not None:
            query = query.where(tenants.c.name == tenant)
        rows = connection.execute(query).all()
        if tenant is not None and not rows:
            raise _unknown(tenant)
        found = [(row.name, read_clock(connection, row.id)) for row in rows]
    return [clock_info(name, with_pinned_today(clock, pinned_today)) for name, clock in found]


def clock_info(tenant: str, clock: TenantClock) -> ClockInfo:
    wall_now = utc_now()
    return ClockInfo(
        tenant=tenant,
        now=clock.at(wall_now),
        today=clock.today(lambda: wall_now),
        offset_seconds=(clock.at(wall_now) - wall_now).total_seconds(),
        frozen=clock.frozen_at is not None,
        anchored=clock.anchored,
    )


def _change(
    engine: Engine,
    tenant: str,
    change: Callable[[TenantClock], TenantClock],
    pinned_today: dt.date | None,
) -> ClockInfo:
    with plain_write_transaction(engine) as connection:
        tenant_id = tenant_id_of(connection, tenant, lock=True)
        clock = change(read_clock(connection, tenant_id))
        try:
            clock.now()  # a time past year 9999 cannot be shown or stored
        except OverflowError:
            raise ValueError("that would move the clock past the year 9999") from None
        connection.execute(clocks.delete().where(clocks.c.tenant_id == tenant_id))
        if clock.moved:
            connection.execute(
                clocks.insert().values(
                    tenant_id=tenant_id,
                    offset_microseconds=clock.offset // MICROSECOND,
                    frozen_at=clock.frozen_at,
                    anchored=clock.anchored,
                    updated_at=utc_now(),
                )
            )
    return clock_info(tenant, with_pinned_today(clock, pinned_today))


def tenant_id_of(connection: sa.Connection, tenant: str, *, lock: bool = False) -> int:
    """The tenant's id (UnknownTenant otherwise); with ``lock``, its row locked on
    PostgreSQL so that clock changes queue (SQLite's write transaction holds the
    database's write lock already)."""
    query = sa.select(tables.tenants.c.id).where(tables.tenants.c.name == tenant)
    if lock and is_postgresql(connection.engine):
        query = query.with_for_update()
    found = connection.scalar(query)
    if found is None:
        raise _unknown(tenant)
    return int(found)


def _unknown(tenant: str) -> UnknownTenant:
    return UnknownTenant(f"no tenant named {tenant!r} (see: chronodelta tenants list)")
