"""The one read every API request makes of its tenant (issue 14: the request path).

Three features each need a fact of the caller's tenant fresh on every request, so that
a change holds in every worker at the next request (no worker keeps a copy):

* the tenant's clock (issue 13, item 1): a token's expiry and the request's "now";
* whether the tenant has live fault rules (issue 13, item 2): most have none, and then
  the rules themselves need not be read;
* the tenant's stamp, the counters that every change to a list page raises (the change
  version, restores, and the org tree's ``organisation``): a list page's continuation
  token carries its restore count (issue 13, item 4), and a page read ahead is served
  only under the same stamp (``records/_read_ahead.py``).

They were three statements, each a round trip on PostgreSQL. ``TenantNowReader.read``
reads them in one (``read_statement``: autocommit, one snapshot), made at the access
check (``auth/_access.py``), before the route reads anything: so the stamp is still read
before the page it stamps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server.clock._model import (
    WALL_CLOCK,
    TenantClock,
    clock_from_row,
    with_pinned_today,
)
from chronodelta.server.snapshots._epoch import RESTORES
from chronodelta.storage import CHANGE_VERSION, read_statement, tables

ORGANISATION = "organisation"  # the counter the org tree and circle writes raise


@dataclass(frozen=True, slots=True)
class TenantStamp:
    """The tenant's counters that every change to a list page's body raises."""

    change_version: int
    restores: int
    organisation: int


NO_STAMP = TenantStamp(0, 0, 0)  # a tenant with no counters yet


@dataclass(frozen=True, slots=True)
class TenantNow:
    """What one request read of its tenant, at one moment."""

    clock: TenantClock
    stamp: TenantStamp
    has_fault_rules: bool


def _of_tenant(column: sa.ColumnElement[Any], *where: sa.ColumnElement[bool]) -> Any:
    tenant = tables.tenants.c.id  # correlated: the one tenant row selected below
    return sa.select(column).where(column.table.c.tenant_id == tenant, *where).scalar_subquery()


def _counter(name: str) -> Any:
    counters = tables.tenant_counters
    return sa.func.coalesce(_of_tenant(counters.c.value, counters.c.name == name), 0)


# The stamp's counters, in ``TenantStamp``'s order: read here and by ``tenant_stamp``.
_STAMP_COLUMNS = (_counter(CHANGE_VERSION), _counter(RESTORES), _counter(ORGANISATION))
_OF_TENANT = tables.tenants.c.id == sa.bindparam("tenant")


def _now_query() -> sa.Select[Any]:
    clocks, rules = tables.tenant_clocks, tables.fault_rules
    live_rules = sa.exists().where(
        rules.c.tenant_id == tables.tenants.c.id,
        sa.or_(rules.c.remaining.is_(None), rules.c.remaining > 0),  # as FaultRules reads them
    )
    return sa.select(
        _of_tenant(clocks.c.offset_microseconds),
        _of_tenant(clocks.c.frozen_at),
        _of_tenant(clocks.c.anchored),
        *_STAMP_COLUMNS,
        live_rules,
    ).where(_OF_TENANT)


_NOW = _now_query()  # built once: every API request runs it
_STAMP = sa.select(*_STAMP_COLUMNS).where(_OF_TENANT)


def tenant_stamp(engine: Engine, tenant_id: int) -> TenantStamp:
    """The tenant's stamp alone, now: one statement (a page read ahead reads it first)."""
    rows = read_statement(engine, _STAMP, {"tenant": tenant_id})
    return TenantStamp(*(int(value) for value in rows[0])) if rows else NO_STAMP


class TenantNowReader:
    """A worker's way to ``TenantNow``: read fresh, never cached."""

    def __init__(self, engine: Engine, pinned_today: dt.date | None) -> None:
        self._engine = engine
        self._pinned_today = pinned_today  # CHRONODELTA_TODAY, as TenantClocks applies it

    def read(self, tenant_id: int) -> TenantNow:
        rows = read_statement(self._engine, _NOW, {"tenant": tenant_id})
        if not rows:  # the tenant is gone since its token was issued: nothing to read
            return TenantNow(with_pinned_today(WALL_CLOCK, self._pinned_today), NO_STAMP, False)
        row: tuple[Any, ...] = tuple(rows[0])
        offset, frozen_at, anchored, version, restores, organisation, has_rules = row
        return TenantNow(
            with_pinned_today(clock_from_row(offset, frozen_at, anchored), self._pinned_today),
            TenantStamp(int(version), int(restores), int(organisation)),
            bool(has_rules),
        )
