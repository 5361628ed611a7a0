"""The request's one read of its tenant gives what each feature's own read gives.

Issue 14 (the request path): the tenant's clock, its stamp and whether it has live
fault rules are read in one statement on every API call (``server/_tenant_now.py``);
each part must be exactly what ``TenantClocks.read``, the stamp's own read
(``tenant_stamp``, which read-ahead uses) and the fault rules' own query say, before
and after each changes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingDraft, ClockingKind
from chronodelta.server import (
    ConnectorBackend,
    FaultSpec,
    add_fault_rule,
    clear_fault_rules,
    create_tenant,
    place_in_org_group,
    reset_tenant,
    seed_tenant,
    set_clock,
)
from chronodelta.server._tenant_now import TenantNow, TenantNowReader, TenantStamp, tenant_stamp
from chronodelta.server.clock._store import TenantClocks
from chronodelta.server.faults._rules import FaultRules

PINNED = dt.date(2026, 1, 20)


def both(engine: Engine, tenant_id: int) -> TenantNow:
    """The one read, checked against each feature's own read of the same part."""
    now = TenantNowReader(engine, PINNED).read(tenant_id)
    assert now.clock == TenantClocks(engine, PINNED).read(tenant_id)
    assert now.stamp == tenant_stamp(engine, tenant_id)
    return now


def test_each_part_follows_its_own_change(engine: Engine) -> None:
    tenant_id = create_tenant(engine, "acme").id
    fresh = both(engine, tenant_id)
    assert (fresh.clock.moved, fresh.has_fault_rules) == (False, False)
    assert fresh.clock.pinned_today == PINNED  # CHRONODELTA_TODAY, as TenantClocks applies it

    seed_tenant(engine, "acme", people=3, days=2, seed=1, until=dt.date(2026, 1, 10))
    seeded = both(engine, tenant_id).stamp
    assert seeded.change_version > fresh.stamp.change_version

    moment = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    set_clock(engine, "acme", moment, frozen=True)
    assert both(engine, tenant_id).clock.now() == moment

    rule = add_fault_rule(engine, "acme", FaultSpec(status_code=503, count=1))
    assert both(engine, tenant_id).has_fault_rules
    clear_fault_rules(engine, "acme", rule.id)
    assert not both(engine, tenant_id).has_fault_rules

    draft = ClockingDraft(person_id=1, date=dt.date(2026, 1, 12), time_of_day=480,
                          kind=ClockingKind.IN_OUT)  # fmt: skip
    ConnectorBackend(engine).create_clocking(tenant_id, draft)
    written = both(engine, tenant_id).stamp
    assert written.change_version > seeded.change_version

    place_in_org_group(engine, "acme", 1, None)
    moved = both(engine, tenant_id).stamp
    assert moved.organisation > written.organisation

    reset_tenant(engine, "acme")
    assert both(engine, tenant_id).stamp.restores == moved.restores + 1


def test_a_used_up_rule_is_no_live_rule(engine: Engine) -> None:
    """The fault rules' own query reads only rules with calls left; so does the one read."""
    tenant_id = create_tenant(engine, "acme").id
    add_fault_rule(engine, "acme", FaultSpec(status_code=503, count=1))
    assert both(engine, tenant_id).has_fault_rules
    assert FaultRules(engine).fired("acme", None, "GET", "/connector/x") is not None  # used up
    assert not both(engine, tenant_id).has_fault_rules


def test_a_tenant_that_is_gone_reads_as_the_wall_clock(engine: Engine) -> None:
    now = TenantNowReader(engine, None).read(404)
    assert now == TenantNow(TenantClocks(engine, None).read(404), TenantStamp(0, 0, 0), False)
