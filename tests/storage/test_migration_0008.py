"""Migration 0008 (webhooks): new tables only, down and up again on a tenant's data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.server import create_tenant, seed_tenant
from chronodelta.storage import current_revision, upgrade
from chronodelta.storage._migrate import alembic_config
from chronodelta.storage.tables import clockings


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_0008_adds_the_webhook_tables_and_leaves_data_alone(engine: Engine) -> None:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=2, days=2, seed=1, until=dt.date(2026, 1, 20))
    with engine.connect() as connection:
        before = connection.execute(sa.select(clockings).order_by(clockings.c.id)).all()
    _downgrade(engine, "0007")
    assert current_revision(engine) == "0007"
    names = set(sa.inspect(engine).get_table_names())
    assert not names & {"webhooks", "webhook_outbox", "webhook_deliveries"}
    upgrade(engine)
    assert {"webhooks", "webhook_outbox", "webhook_deliveries"} <= set(
        sa.inspect(engine).get_table_names()
    )
    with engine.connect() as connection:
        assert connection.execute(sa.select(clockings).order_by(clockings.c.id)).all() == before
