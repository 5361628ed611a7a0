"""Migrations: idempotent, at head, and in step with the table definitions."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

import chronodelta.storage
from chronodelta.storage import create_engine, current_revision, head_revision, tables, upgrade
from chronodelta.storage.tables import metadata
from chronodelta.testing import ThrowawayPostgres


def test_upgrade_is_idempotent_and_reaches_head(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() is not None


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no schema at all."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
        name = f"e_{uuid.uuid4().hex[:16]}"
        request.addfinalizer(lambda: cluster.drop_database(name))
        url = cluster.create_database(name)
    created = create_engine(url)
    yield created
    created.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    migrations = Path(chronodelta.storage.__file__).parent / "migrations"
    config.set_main_option("script_location", str(migrations))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_0006_adds_org_groups_and_circles_and_keeps_the_people(empty_engine: Engine) -> None:
    """Issue 11, item 5: people written before 0006 stay, in no group and no circle;
    the new tables take memberships that point at them, and 0006 is reversible."""
    upgrade(empty_engine, "0005")
    with empty_engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO tenants (id, name, created_at) VALUES (1, 'acme', :now)"),
            {"now": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO people (tenant_id, id, change_version, badge_number, "
                "employee_number, first_name, last_name, in_service_date) "
                "VALUES (1, 7, 1, '1234567', 'E00007', 'Lotte', 'Peeters', '2020-01-06')"
            )
        )
    upgrade(empty_engine)
    with empty_engine.begin() as connection:
        assert connection.scalar(sa.text("SELECT first_name FROM people WHERE id = 7")) == "Lotte"
        for table in ("org_groups", "org_group_members", "circles", "circle_members"):
            assert connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) == 0
        connection.execute(tables.org_groups.insert(), [{"tenant_id": 1, "id": 1, "name": "HQ"}])
        connection.execute(
            tables.org_groups.insert(), [{"tenant_id": 1, "id": 2, "name": "IT", "parent_id": 1}]
        )
        connection.execute(
            tables.org_group_members.insert(), [{"tenant_id": 1, "person_id": 7, "org_group_id": 2}]
        )
        connection.execute(tables.circles.insert(), [{"tenant_id": 1, "id": 1, "name": "Aid"}])
        connection.execute(
            tables.circle_members.insert(), [{"tenant_id": 1, "circle_id": 1, "person_id": 7}]
        )
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:  # no person 8
        connection.execute(
            tables.circle_members.insert(), [{"tenant_id": 1, "circle_id": 1, "person_id": 8}]
        )
    _downgrade(empty_engine, "0005")
    assert current_revision(empty_engine) == "0005"
    with empty_engine.connect() as connection:
        assert not {"org_groups", "circles"} & set(sa.inspect(connection).get_table_names())
        assert connection.scalar(sa.text("SELECT count(*) FROM people")) == 1
