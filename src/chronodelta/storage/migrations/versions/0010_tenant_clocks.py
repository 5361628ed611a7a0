"""tenant clocks: a per-tenant offset from the wall clock (issue 13, item 1)

One row per tenant whose sandbox clock an operator moved (``chronodelta clock``):
the offset from the wall clock, or the moment it stands still at. A new table only:
no existing row changes, and a tenant without a row keeps the wall clock.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_clocks",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("offset_microseconds", sa.BigInteger(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchored", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_clocks_tenant_id")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_clocks")),
    )


def downgrade() -> None:
    op.drop_table("tenant_clocks")
