"""Migration 0012 (tenant snapshots): new tables only, down and up again on a tenant's
data; a tenant's seeding saves its ``seeded`` snapshot there (issue 13, item 4)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.server import (
    SnapshotNotFound,
    create_tenant,
    list_snapshots,
    reset_tenant,
    seed_tenant,
    snapshot_tenant,
)
from chronodelta.storage import current_revision, upgrade
from chronodelta.storage._migrate import alembic_config
from chronodelta.storage.tables import clockings

NEW_TABLES = {"tenant_snapshots", "tenant_snapshot_parts"}


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_0012_adds_the_snapshot_tables_and_leaves_data_alone(engine: Engine) -> None:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=2, days=2, seed=1, until=dt.date(2026, 1, 20))
    assert [s.name for s in list_snapshots(engine, "acme")] == ["seeded"]
    with engine.connect() as connection:
        before = connection.execute(sa.select(clockings).order_by(clockings.c.id)).all()
    _downgrade(engine, "0011")
    assert current_revision(engine) == "0011"
    assert not set(sa.inspect(engine).get_table_names()) & NEW_TABLES
    upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= NEW_TABLES
    with engine.connect() as connection:
        assert connection.execute(sa.select(clockings).order_by(clockings.c.id)).all() == before
    # A tenant seeded before 0012 has no seeded state until one is recorded.
    with pytest.raises(SnapshotNotFound, match="no seeded state"):
        reset_tenant(engine, "acme")
    snapshot_tenant(engine, "acme", "seeded")
    assert reset_tenant(engine, "acme").versions is None  # nothing differed
