"""``person in circle(...)``, ``org-group(...)`` and ``org-tree(...)`` as SQL.

Contract, "Fidelity", "Filters". A ``Selection`` (``domain/_filters.py``) is the union
of plain person ids and the members of named circles, org groups and org trees; this
turns it into one condition on a record's person column. The members are read by the
query itself, so they are the memberships committed when the page is read. An id
that names no circle or group adds nobody.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from chronodelta.domain import PeopleGrouping, Selection
from chronodelta.storage import tables


def selection_condition(
    person: sa.ColumnElement[Any], tenant_id: int, selection: Selection
) -> sa.ColumnElement[bool]:
    """Whether ``person`` (a record's person id column) is in ``selection``."""
    parts: list[sa.ColumnElement[bool]] = []
    if selection.values:
        parts.append(person.in_(sorted(selection.values, key=str)))
    for qualifier, ids in selection.groupings:
        members = _MEMBERS[PeopleGrouping(qualifier)](tenant_id, sorted(ids, key=str))
        parts.append(person.in_(members))
    return sa.or_(*parts)


def _circle_members(tenant_id: int, ids: list[Any]) -> sa.Select[Any]:
    members = tables.circle_members
    return sa.select(members.c.person_id).where(
        members.c.tenant_id == tenant_id, members.c.circle_id.in_(ids)
    )


def _org_group_members(tenant_id: int, group_ids: Any) -> sa.Select[Any]:
    members = tables.org_group_members
    return sa.select(members.c.person_id).where(
        members.c.tenant_id == tenant_id, members.c.org_group_id.in_(group_ids)
    )


def _org_tree_members(tenant_id: int, ids: list[Any]) -> sa.Select[Any]:
    """The people of these groups and of every group below them: a recursive walk
    down the parent links (UNION, not UNION ALL, so it ends even on a cycle)."""
    groups = tables.org_groups
    tree = (
        sa.select(groups.c.id)
        .where(groups.c.tenant_id == tenant_id, groups.c.id.in_(ids))
        .cte(recursive=True)
    )
    child = groups.alias()
    tree = tree.union(
        sa.select(child.c.id).where(child.c.tenant_id == tenant_id, child.c.parent_id == tree.c.id)
    )
    return _org_group_members(tenant_id, sa.select(tree.c.id))


_MEMBERS = {
    PeopleGrouping.CIRCLE: _circle_members,
    PeopleGrouping.ORG_GROUP: _org_group_members,
    PeopleGrouping.ORG_TREE: _org_tree_members,
}
