"""org groups and circles

What ``person in org-group(...)``, ``org-tree(...)`` and ``circle(...)`` filters select
(issue 11, item 5; contract, "Fidelity", "Filters"): a tree of org groups, each
person's one org group, circles and their members. New tables only: existing people
start in no group and no circle (``chronodelta seed`` fills them for demo tenants).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "circles",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_circles_tenant_id")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_circles")),
    )
    op.create_table(
        "org_groups",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "parent_id"],
            ["org_groups.tenant_id", "org_groups.id"],
            name=op.f("fk_org_groups_tenant_id_parent_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_org_groups_tenant_id")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_org_groups")),
    )
    op.create_index(
        "ix_org_groups_tenant_parent", "org_groups", ["tenant_id", "parent_id"], unique=False
    )
    op.create_table(
        "circle_members",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("circle_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("person_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "circle_id"],
            ["circles.tenant_id", "circles.id"],
            name=op.f("fk_circle_members_tenant_id_circle_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["people.tenant_id", "people.id"],
            name=op.f("fk_circle_members_tenant_id_person_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_circle_members_tenant_id")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "circle_id", "person_id", name=op.f("pk_circle_members")
        ),
    )
    op.create_table(
        "org_group_members",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_group_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "org_group_id"],
            ["org_groups.tenant_id", "org_groups.id"],
            name=op.f("fk_org_group_members_tenant_id_org_group_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["people.tenant_id", "people.id"],
            name=op.f("fk_org_group_members_tenant_id_person_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_org_group_members_tenant_id")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "person_id", name=op.f("pk_org_group_members")),
    )
    op.create_index(
        "ix_org_group_members_tenant_group",
        "org_group_members",
        ["tenant_id", "org_group_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_org_group_members_tenant_group", table_name="org_group_members")
    op.drop_table("org_group_members")
    op.drop_table("circle_members")
    op.drop_index("ix_org_groups_tenant_parent", table_name="org_groups")
    op.drop_table("org_groups")
    op.drop_table("circles")
