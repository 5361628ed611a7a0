"""fault rules and the request log (issue 13, items 2 and 3)

``fault_rules``: the sandbox's injected failures, per tenant; ``remaining`` is the
``--count`` left (NULL: unlimited), decremented atomically by whichever worker fires
the rule. ``request_log``: one row per API call of a tenant, written in batches by each
worker. New tables only: no existing row changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIG_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fault_rules",
        sa.Column("id", _BIG_SERIAL, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("path_glob", sa.String(length=500), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("retry_after", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_fault_rules_tenant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_rules")),
    )
    op.create_index("ix_fault_rules_tenant_id_id", "fault_rules", ["tenant_id", "id"])
    op.create_table(
        "request_log",
        sa.Column("id", _BIG_SERIAL, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("logged_at", _TIMESTAMP, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_reasons", sa.Text(), nullable=True),
        sa.Column("fault_rule_id", sa.BigInteger(), nullable=True),
        sa.Column("fault", sa.String(length=100), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("request_body_truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_request_log_tenant_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_log")),
    )
    op.create_index("ix_request_log_tenant_id_id", "request_log", ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_request_log_tenant_id_id", table_name="request_log")
    op.drop_table("request_log")
    op.drop_index("ix_fault_rules_tenant_id_id", table_name="fault_rules")
    op.drop_table("fault_rules")
