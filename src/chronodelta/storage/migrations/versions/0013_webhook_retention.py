"""webhook delivery-log retention (issue 12)

``webhooks.disabled_at``: when a webhook became ``Disabled``, so that retention can
forget disabled webhooks (and their delivery log) once the retention period has passed
since then, as it does deleted ones from ``deleted_at``. Webhooks already disabled get
the time of this migration: they are kept a full retention period from now, never
less. The index on ``webhook_deliveries.attempted_at`` lets retention find the attempts
older than the period without reading the whole log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    webhooks = sa.table(
        "webhooks",
        sa.column("status", sa.String()),
        sa.column("disabled_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        webhooks.update()
        .where(webhooks.c.status == "Disabled")
        .values(disabled_at=dt.datetime.now(dt.UTC))
    )
    op.create_index("ix_webhook_deliveries_attempted_at", "webhook_deliveries", ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_attempted_at", table_name="webhook_deliveries")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
