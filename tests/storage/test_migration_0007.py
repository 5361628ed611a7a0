"""Migration 0007 creates the calculated-totals collection and fills it for the
clockings already stored, on SQLite and PostgreSQL (issue 11, item 9; the rules are
docs/calculation.md's, and the result must equal a recalculation from scratch)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import ClockingDraft, ClockingKind
from chronodelta.server import (
    ConnectorBackend,
    create_tenant,
    insert_clockings,
    insert_reference_data,
)
from chronodelta.storage import create_engine, current_revision, tables, upgrade
from chronodelta.storage._migrate import alembic_config
from chronodelta.testing import ThrowawayPostgres
from tests.server.totals import calculated
from tests.server.totals.test_calculated_totals_incremental import stored

UNTIL = dt.date(2026, 1, 20)
c = tables.calculated_totals.c


@pytest.fixture(autouse=True)
def _no_webhook_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests write with today's code into a schema of revision 0006 or 0007, which
    has no webhook tables (0008): today's outbox observer, which looks for the tenant's
    webhooks in every versioned write, is not part of what those revisions wrote."""
    monkeypatch.setattr("chronodelta.storage._transactions._observers", [])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no schema at all (the shared fixtures hand out migrated ones)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'before.db'}"
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
        name = f"m_{uuid.uuid4().hex[:16]}"
        request.addfinalizer(lambda: cluster.drop_database(name))
        url = cluster.create_database(name)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def seed_at_0006(engine: Engine) -> dict[int, int]:
    """Two tenants with clockings written before 0007; their last change versions."""
    upgrade(engine, "0006")
    last = {}
    for name, people, seed in (("acme", 6, 3), ("globex", 3, 5)):
        owner = create_tenant(engine, name).id
        reference = generate_reference_data(people=people, seed=seed, today=UNTIL)
        insert_reference_data(engine, owner, reference)
        drafts = generate_clockings(reference, days=40, until=UNTIL, seed=seed)
        # Only what existed at 0006 is written: 0007's table is not there yet.
        insert_clockings(engine, owner, drafts, calculate=False)
        last[owner] = version_counter(engine, owner)
    return last


def version_counter(engine: Engine, tenant_id: int, name: str = "change_version") -> int:
    k = tables.tenant_counters.c
    with engine.connect() as connection:
        query = sa.select(k.value).where(k.tenant_id == tenant_id, k.name == name)
        return int(connection.scalar(query) or 0)


def test_0007_computes_the_collection_for_existing_clockings(empty_engine: Engine) -> None:
    last = seed_at_0006(empty_engine)
    upgrade(empty_engine, "0007")
    assert current_revision(empty_engine) == "0007"
    with empty_engine.connect() as connection:
        for tenant_id, before in last.items():
            expected = calculated.from_database(connection, tenant_id)
            assert expected and stored(connection, tenant_id) == expected
            rows = connection.execute(
                sa.select(c.id, c.change_version).where(c.tenant_id == tenant_id)
            ).all()
            # Ids 1..n from the tenant's own counter; versions after every earlier
            # one, up to the tenant's counter, with a change mark for the overlap window.
            assert sorted(row.id for row in rows) == list(range(1, len(rows) + 1))
            versions = sorted(row.change_version for row in rows)
            assert versions == list(range(before + 1, before + len(rows) + 1))
            assert version_counter(empty_engine, tenant_id) == versions[-1]
            assert version_counter(empty_engine, tenant_id, "calculated-totals") == len(rows)
            m = tables.change_marks.c
            marks = connection.scalars(
                sa.select(m.change_version).where(m.tenant_id == tenant_id)
            ).all()
            assert versions[-1] in marks


def test_after_0007_writes_keep_the_collection_in_step(empty_engine: Engine) -> None:
    last = seed_at_0006(empty_engine)
    upgrade(empty_engine)
    acme = min(last)
    backend = ConnectorBackend(empty_engine)
    created = backend.create_clocking(
        acme, ClockingDraft(1, UNTIL - dt.timedelta(days=9), 1000, ClockingKind.IN_OUT)
    )
    backend.delete_clocking(acme, created["id"], None)
    backend.create_clocking(acme, ClockingDraft(2, UNTIL, 420, ClockingKind.IN_OUT))
    with empty_engine.connect() as connection:
        assert stored(connection, acme) == calculated.from_database(connection, acme)
        ids = connection.scalars(sa.select(c.id).where(c.tenant_id == acme)).all()
    assert len(ids) == len(set(ids))


def test_0007_downgrades_and_upgrades_again(empty_engine: Engine) -> None:
    seed_at_0006(empty_engine)
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        before = stored(connection, 1)
    config = alembic_config()
    with empty_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
        connection.commit()
    assert current_revision(empty_engine) == "0006"
    assert "calculated_totals" not in sa.inspect(empty_engine).get_table_names()
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        assert stored(connection, 1) == before
