"""Migration 0011 (fault rules and the request log, issue 13): new tables only, down
and up again on a tenant's data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.server import create_tenant, seed_tenant
from chronodelta.storage import current_revision, upgrade
from chronodelta.storage._migrate import alembic_config
from chronodelta.storage.tables import clockings

NEW_TABLES = {"fault_rules", "request_log"}


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_0011_adds_the_fault_and_request_log_tables_and_leaves_data_alone(
    engine: Engine,
) -> None:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=2, days=2, seed=1, until=dt.date(2026, 1, 20))
    with engine.connect() as connection:
        before = connection.execute(sa.select(clockings).order_by(clockings.c.id)).all()
    _downgrade(engine, "0010")
    assert current_revision(engine) == "0010"
    assert not set(sa.inspect(engine).get_table_names()) & NEW_TABLES
    upgrade(engine)
    inspector = sa.inspect(engine)
    assert NEW_TABLES <= set(inspector.get_table_names())
    for table in NEW_TABLES:
        indexes = {tuple(i["column_names"]) for i in inspector.get_indexes(table)}
        assert ("tenant_id", "id") in indexes, table
    with engine.connect() as connection:
        assert connection.execute(sa.select(clockings).order_by(clockings.c.id)).all() == before
