"""``person in circle(...)``, ``org-group(...)`` and ``org-tree(...)`` compiled to SQL
(contract, "Fidelity", "Filters"), on SQLite and PostgreSQL: for random person filters,
the page reader returns exactly the records whose person the filter's syntax tree,
read directly against the membership tables, selects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from chronodelta.domain import CLOCKINGS_FILTER, compile_filter, format_filter
from chronodelta.domain._filters import And, Condition, Constant, ListValue, Node, Or
from chronodelta.server import create_tenant, place_in_org_group, seed_tenant, set_circle_member
from chronodelta.server.records._tracked import TRACKED, read_page
from chronodelta.storage import plain_write_transaction, read_transaction, tables

DAY = dt.date(2026, 1, 14)
DAY_FILTER = "date eq '2026-01-14'"
PEOPLE = 12


@dataclass
class World:
    tenant_id: int
    parents: dict[int, int | None]
    group_of: dict[int, int]
    circles: dict[int, set[int]]
    day_records: list[tuple[int, int]]  # (clocking id, person id) of DAY

    def members(self, qualifier: str, ids: set[int]) -> set[int]:
        if qualifier == "circle":
            return {p for c in ids for p in self.circles.get(c, set())}

        def named(group: int | None) -> bool:
            while group is not None:
                if group in ids:
                    return True
                group = self.parents[group] if qualifier == "org-tree" else None
            return False

        return {p for p, g in self.group_of.items() if named(g)}

    def selects(self, node: Node, person: int) -> bool:
        if isinstance(node, And):
            return all(self.selects(item, person) for item in node.items)
        if isinstance(node, Or):
            return any(self.selects(item, person) for item in node.items)
        if node.field != "person":
            return True
        if isinstance(node.value, Constant):
            return node.value.value == person
        ids = {c.value for c in node.value.items if isinstance(c.value, int)}
        if node.value.qualifier is None:
            return person in ids
        return person in self.members(node.value.qualifier, ids)


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    """The demo's org tree and circles, one level deeper (group 10 under Warehouse),
    with a person moved there, one taken out of every group and circles changed."""
    tenant_id = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=PEOPLE, days=10, seed=5, until=dt.date(2026, 1, 20))
    with plain_write_transaction(engine) as connection:
        connection.execute(
            tables.org_groups.insert().values(
                tenant_id=tenant_id, id=10, name="Night crew", parent_id=4
            )
        )
    place_in_org_group(engine, "acme", 5, 10)
    place_in_org_group(engine, "acme", 6, None)
    set_circle_member(engine, "acme", 2, 7, member=True)
    set_circle_member(engine, "acme", 4, 1, member=False)
    yield read_world(engine, tenant_id)


def read_world(engine: Engine, tenant_id: int) -> World:
    with read_transaction(engine) as connection:

        def rows(table: sa.Table) -> list[Any]:
            return list(connection.execute(sa.select(table).where(table.c.tenant_id == tenant_id)))

        clockings = tables.clockings
        day = connection.execute(
            sa.select(clockings.c.id, clockings.c.person_id).where(
                clockings.c.tenant_id == tenant_id, clockings.c.date == DAY
            )
        )
        circles: dict[int, set[int]] = {c.id: set() for c in rows(tables.circles)}
        for member in rows(tables.circle_members):
            circles[member.circle_id].add(member.person_id)
        return World(
            tenant_id,
            {g.id: g.parent_id for g in rows(tables.org_groups)},
            {m.person_id: m.org_group_id for m in rows(tables.org_group_members)},
            circles,
            [(row.id, row.person_id) for row in day],
        )


QUALIFIERS = st.sampled_from(["circle", "org-group", "org-tree"])
IDS = st.lists(st.integers(1, 11), min_size=1, max_size=3)  # 11 names nothing
PERSONS = st.integers(1, PEOPLE)
LEAVES = st.one_of(
    st.builds(lambda p: Condition("person", "eq", Constant(p)), PERSONS),
    st.builds(
        lambda ps: Condition("person", "in", ListValue(None, tuple(map(Constant, ps)))),
        st.lists(PERSONS, min_size=1, max_size=4),
    ),
    st.builds(
        lambda q, ids: Condition("person", "in", ListValue(q, tuple(map(Constant, ids)))),
        QUALIFIERS,
        IDS,
    ),
)
PARTS = st.recursive(
    LEAVES,
    lambda kids: st.lists(kids, min_size=2, max_size=3).map(lambda k: Or(tuple(k))),
    max_leaves=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(PARTS, min_size=1, max_size=3))
def test_pages_hold_exactly_the_people_the_filter_names(
    engine: Engine, world: World, parts: list[Node]
) -> None:
    node = And((Condition("date", "eq", Constant(DAY.isoformat())), *parts))
    criteria = compile_filter(
        format_filter(node), CLOCKINGS_FILTER, mode="list", today=dt.date(2026, 6, 1)
    )
    with read_transaction(engine) as connection:
        page = read_page(connection, TRACKED["clockings"], world.tenant_id, criteria, None, 10_000)
    got = {record["id"] for record in page.records}
    expected = {cid for cid, person in world.day_records if world.selects(node, person)}
    assert got == expected


def test_the_world_has_what_the_property_needs(world: World) -> None:
    """Guards the property against a vacuous world: a three-level tree, people in
    inner and leaf groups and in none, circles, and clockings on the day."""
    assert world.parents[10] == 4 and world.parents[4] == 2 and world.parents[2] == 1
    assert world.group_of[5] == 10 and 6 not in world.group_of
    assert world.members("org-tree", {2}) > world.members("org-group", {2, 4}) >= {2}
    assert 5 in world.members("org-tree", {1}) and 5 not in world.members("org-group", {4})
    assert all(world.circles[c] for c in (1, 2, 4)) and 1 not in world.circles[4]
    assert len({person for _, person in world.day_records}) > PEOPLE // 2
