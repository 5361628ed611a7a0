"""Operator tasks on a tenant's org tree and circles (contract, "Fidelity", "Filters").

What ``person in org-group(...)``, ``org-tree(...)`` and ``circle(...)`` select. Not API
collections, so their writes take no change version: a list filtered by them reads
the memberships as they are when it reads, and no delta depends on them (seeds 001 to
003: "People cannot be used in the delta"; docs/delta.md). Each write raises the
tenant's ``organisation`` counter instead, so that a list page read ahead under the
old memberships is not served (``records/_read_ahead.py``).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chronodelta.server._tenant_now import ORGANISATION
from chronodelta.server.admin._tenants import AdminError, tenant_id
from chronodelta.storage import bump_tenant_counter, plain_write_transaction, tables


def place_in_org_group(engine: Engine, tenant: str, person_id: int, group_id: int | None) -> None:
    """Move a person to org group ``group_id``, or out of every group (None)."""
    owner = tenant_id(engine, tenant)
    members = tables.org_group_members
    try:
        with plain_write_transaction(engine) as connection:
            connection.execute(
                members.delete().where(
                    members.c.tenant_id == owner, members.c.person_id == person_id
                )
            )
            if group_id is not None:
                connection.execute(
                    members.insert().values(
                        tenant_id=owner, person_id=person_id, org_group_id=group_id
                    )
                )
            bump_tenant_counter(connection, owner, ORGANISATION)
    except IntegrityError:
        raise AdminError(f"no person {person_id} or no org group {group_id} in {tenant}") from None


def set_circle_member(
    engine: Engine, tenant: str, circle_id: int, person_id: int, *, member: bool
) -> None:
    """Add a person to a circle (``member``) or take them out; either is idempotent."""
    owner = tenant_id(engine, tenant)
    table = tables.circle_members
    key = (table.c.tenant_id == owner, table.c.circle_id == circle_id)
    try:
        with plain_write_transaction(engine) as connection:
            connection.execute(table.delete().where(*key, table.c.person_id == person_id))
            if member:
                connection.execute(
                    table.insert().values(tenant_id=owner, circle_id=circle_id, person_id=person_id)
                )
            bump_tenant_counter(connection, owner, ORGANISATION)
    except IntegrityError:
        raise AdminError(f"no person {person_id} or no circle {circle_id} in {tenant}") from None
