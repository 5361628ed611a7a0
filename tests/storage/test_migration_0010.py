"""Migration 0010 (tenant clocks): a new table only, down and up again on a tenant's data."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.server import advance_clock, create_tenant, seed_tenant, show_clocks
from chronodelta.storage import current_revision, upgrade
from chronodelta.storage._migrate import alembic_config
from chronodelta.storage.tables import clockings


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_0010_adds_the_clock_table_and_leaves_data_alone(engine: Engine) -> None:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=2, days=2, seed=1, until=dt.date(2026, 1, 20))
    advance_clock(engine, "acme", dt.timedelta(hours=73))
    with engine.connect() as connection:
        before = connection.execute(sa.select(clockings).order_by(clockings.c.id)).all()
    _downgrade(engine, "0009")
    assert current_revision(engine) == "0009"
    assert "tenant_clocks" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert "tenant_clocks" in sa.inspect(engine).get_table_names()
    # The clock's row went with the table: the tenant is on the wall clock again.
    (clock,) = show_clocks(engine, "acme")
    assert clock.offset_seconds == 0
    with engine.connect() as connection:
        assert connection.execute(sa.select(clockings).order_by(clockings.c.id)).all() == before
