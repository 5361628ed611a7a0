"""Migration 0013 (webhook retention): ``webhooks.disabled_at`` and the delivery log's
time index; webhooks already disabled count from the migration; down and up again."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.server import create_tenant
from chronodelta.storage import current_revision, upgrade
from chronodelta.storage._migrate import alembic_config


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def _insert_webhook(engine: Engine, webhook_id: str, tenant: int, status: str) -> None:
    now = dt.datetime.now(dt.UTC)
    row = {
        "id": webhook_id,
        "tenant_id": tenant,
        "client_id": "c",
        "collection": "clockings",
        "destination_url": "http://127.0.0.1/hooks",
        "external_references": "",
        "signing_key": "whsec_x",
        "status": status,
        "valid_until": now + dt.timedelta(days=30),
        "created_at": now,
        "failed_attempts": 0,
        "next_attempt_at": now,
    }
    webhooks = sa.table("webhooks", *(sa.column(name) for name in row))
    with engine.begin() as connection:
        connection.execute(webhooks.insert().values(row))


def test_0013_stamps_disabled_webhooks_and_goes_down_and_up(engine: Engine) -> None:
    tenant = create_tenant(engine, "acme").id
    _downgrade(engine, "0012")
    assert current_revision(engine) == "0012"
    assert "disabled_at" not in {c["name"] for c in sa.inspect(engine).get_columns("webhooks")}
    _insert_webhook(engine, "a", tenant, "Disabled")
    _insert_webhook(engine, "b", tenant, "Enabled")
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, disabled_at FROM webhooks")).all()
    stamped: dict[str, object] = {row[0]: row[1] for row in rows}
    assert stamped["b"] is None and stamped["a"] is not None
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("webhook_deliveries")}
    assert "ix_webhook_deliveries_attempted_at" in indexes
    _downgrade(engine, "0012")
    upgrade(engine)
    assert "disabled_at" in {c["name"] for c in sa.inspect(engine).get_columns("webhooks")}
