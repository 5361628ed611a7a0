"""How a tenant's people are grouped: the org tree and circles (contract, "Fidelity").

Filters select by them: ``person in org-group(121, 122)`` takes the people of those
groups, ``person in org-tree(121)`` also those of every group below, and
``person in circle(2, 8)`` the members of those circles (``domain/_filters.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OrgGroup:
    """A node of the organisation chart; ``parent_id`` None is a root."""

    id: int
    name: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class Circle:
    """A named set of people (first aiders, a works council, ...)."""

    id: int
    name: str
    member_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Organisation:
    """A tenant's org groups (parents before children), each grouped person's one org
    group as (person id, org group id) pairs in person order, and its circles."""

    org_groups: tuple[OrgGroup, ...]
    org_group_members: tuple[tuple[int, int], ...]
    circles: tuple[Circle, ...]

    def __post_init__(self) -> None:
        seen: set[int] = set()
        for group in self.org_groups:  # parents first: a tree, never a cycle
            if group.parent_id is not None and group.parent_id not in seen:
                raise ValueError(f"org group {group.id}'s parent {group.parent_id} comes later")
            seen.add(group.id)
        unknown = {g for _, g in self.org_group_members} - seen
        if unknown:
            raise ValueError(f"members of unknown org groups {sorted(unknown)}")
        people = [p for p, _ in self.org_group_members]
        if len(set(people)) != len(people):
            raise ValueError("a person is in at most one org group")
