"""tenant snapshots for reset and restore (issue 13, item 4)

``tenant_snapshots`` names a saved state of one tenant (with its id counters and, for
the one seeding takes, the seed parameters); ``tenant_snapshot_parts`` holds its rows
as JSON, per table in parts. New tables only: no existing row changes. Tenants seeded
before this revision have no ``seeded`` snapshot: ``tenants reset`` says so and
``tenants snapshot T seeded`` records one.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIG_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenant_snapshots",
        sa.Column("id", _BIG_SERIAL, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.Column("seed", sa.Text(), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_snapshots_tenant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_snapshots")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_tenant_snapshots_tenant_id_name")),
    )
    op.create_table(
        "tenant_snapshot_parts",
        sa.Column("snapshot_id", _BIG_SERIAL, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["tenant_snapshots.id"],
            name=op.f("fk_tenant_snapshot_parts_snapshot_id"),
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "table_name", "part", name=op.f("pk_tenant_snapshot_parts")
        ),
    )


def downgrade() -> None:
    op.drop_table("tenant_snapshot_parts")
    op.drop_table("tenant_snapshots")
