"""A reset brings back the whole state, the tables no list shows whole included (the
org tree, circles, custom references, id counters), on both databases (issue 13,
item 4; docs/sandbox.md, "What is restored")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.server import (
    create_tenant,
    insert_clockings,
    place_in_org_group,
    reset_tenant,
    seed_tenant,
    set_circle_member,
    tenant_id,
)
from chronodelta.server.references._store import ReferenceStore
from chronodelta.server.snapshots._state import TenantState, read_state
from chronodelta.storage import read_transaction


def state_of(engine: Engine, owner: int) -> TenantState:
    with read_transaction(engine, snapshot=True) as connection:
        return read_state(connection, owner)


def test_a_reset_restores_every_table_of_the_state(engine: Engine) -> None:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=5, seed=2, until=dt.date(2026, 1, 20))
    owner = tenant_id(engine, "acme")
    seeded = state_of(engine, owner)
    place_in_org_group(engine, "acme", 1, None)
    set_circle_member(engine, "acme", 1, 2, member=False)
    set_circle_member(engine, "acme", 1, 3, member=True)
    ReferenceStore(engine).set_external_reference(owner, "people", 2, "payroll", "P-2")
    reference = generate_reference_data(people=3, seed=2, today=dt.date(2026, 1, 20))
    insert_clockings(
        engine, owner, generate_clockings(reference, days=5, until=dt.date(2026, 3, 6), seed=9)
    )
    changed = state_of(engine, owner)
    assert changed != seeded and changed.counters["clockings"] > seeded.counters["clockings"]
    result = reset_tenant(engine, "acme")
    assert result.deleted > 0 and result.versions is not None
    assert state_of(engine, owner) == seeded  # ids counters included
