"""Migration 0005 (reference collections in the vendor's shapes) on databases that hold
data written before it, on SQLite and PostgreSQL: existing rows get the defaults its
docstring promises, the API serves them in the new shapes, duplicate badge numbers
stop the upgrade with a clear message, and the downgrade restores the old columns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server.records._backend import ConnectorBackend
from chronodelta.storage import create_engine, current_revision, head_revision, upgrade
from chronodelta.testing import ThrowawayPostgres

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database migrated to 0004: the schema before this migration."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
        name = f"m_{uuid.uuid4().hex[:16]}"
        request.addfinalizer(lambda: cluster.drop_database(name))
        url = cluster.create_database(name)
    engine = create_engine(url)
    upgrade(engine, "0004")
    yield engine
    engine.dispose()


def insert_old_rows(engine: Engine, *, badges: tuple[str, str] = ("1000001", "1000002")) -> None:
    """One tenant's reference data as revision 0004 stored it (plain SQL: the table
    definitions in storage/tables.py are already the new ones)."""
    rows: list[tuple[str, dict[str, Any]]] = [
        ("tenants", {"id": 1, "name": "acme", "created_at": NOW}),
        ("shift_definitions", {"tenant_id": 1, "id": 1, "change_version": 1, "name": "Day",
                               "shift_code": "DAY", "start_minutes": 480, "end_minutes": 990,
                               "break_minutes": 30}),
        ("people", {"tenant_id": 1, "id": 1, "change_version": 2, "badge_number": badges[0],
                    "employee_number": "E1", "first_name": "Ann", "last_name": "van Dijk",
                    "in_service_date": dt.date(2020, 1, 6), "out_of_service_date": None,
                    "shift_definition_id": 1}),
        ("people", {"tenant_id": 1, "id": 2, "change_version": 3, "badge_number": badges[1],
                    "employee_number": "E2", "first_name": "Bo", "last_name": "Ng",
                    "in_service_date": dt.date(2021, 1, 1), "out_of_service_date": None,
                    "shift_definition_id": None}),
        ("terminals", {"tenant_id": 1, "id": 1, "change_version": 4, "name": "Gate",
                       "external_code": "T-1"}),
        ("absence_definitions", {"tenant_id": 1, "id": 1, "change_version": 5,
                                 "name": "Sickness", "absence_code": "SICK",
                                 "counter_definition_ids": None}),
        ("counter_definitions", {"tenant_id": 1, "id": 1, "change_version": 6,
                                 "name": "Overtime", "counter_code": "OVT"}),
    ]  # fmt: skip
    with engine.begin() as connection:
        for table, values in rows:
            columns = ", ".join(values)
            marks = ", ".join(f":{name}" for name in values)
            connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)


def test_existing_rows_get_the_defaults_and_the_new_shapes(old_engine: Engine) -> None:
    """Contract, "Fidelity" -> "Reference collections": the fields every record has."""
    insert_old_rows(old_engine)
    upgrade(old_engine)
    assert current_revision(old_engine) is not None
    backend = ConnectorBackend(old_engine)
    ann = backend.get_reference(1, "people", 1)
    assert ann["initials"] == "A.V."
    assert ann["sex"] == "Unknown"
    assert ann["lastName"] == "van Dijk"
    assert "email" not in ann and "terminalGroup" not in ann  # empty: left out
    assert backend.get_reference(1, "shift-definitions", 1) == {
        "changeVersion": f"{1:020X}",
        "id": 1,
        "name": {"default": "Day", "translations": {}},
        "code": "DAY",
        "friendlyName": {"default": "Day", "translations": {}},
        "isEnabled": True,
        "startTimeInMinutes": 480,
        "endTimeInMinutes": 990,
        "breakInMinutes": 30,
    }
    assert backend.get_reference(1, "absence-definitions", 1) == {
        "changeVersion": f"{5:020X}",
        "id": 1,
        "name": {"default": "Sickness", "translations": {}},
        "code": "SICK",
        "friendlyName": {"default": "Sickness", "translations": {}},
        "friendlyCode": {"default": "SICK", "translations": {}},
        "allowedDurations": ["FullDay", "HalfDay", "Interval"],
        "isEnabled": True,
        "isReasonForClocking": True,
    }
    counter = backend.get_reference(1, "counter-definitions", 1)
    assert (counter["unit"], counter["isEnabled"], counter["code"]) == ("Duration", True, "OVT")
    assert "counterGroup" not in counter
    terminal = backend.get_reference(1, "terminals", 1)
    assert terminal["name"] == {"default": "Gate", "translations": {}}
    assert terminal["isEnabled"] is True
    # Addressing by reference works on the migrated rows.
    found = backend.get_reference(1, "people", "1000002", "(people,@badge-number)")
    assert found["id"] == 2


def test_badge_numbers_are_unique_after_the_upgrade(old_engine: Engine) -> None:
    """The vendor's people page: "badgeNumber ... Needs to be unique"."""
    insert_old_rows(old_engine)
    upgrade(old_engine)
    with pytest.raises(sa.exc.IntegrityError), old_engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE people SET badge_number = '1000001' WHERE tenant_id = 1 AND id = 2")
        )


def test_duplicate_badge_numbers_stop_the_upgrade_with_a_reason(old_engine: Engine) -> None:
    insert_old_rows(old_engine, badges=("1000001", "1000001"))
    with pytest.raises(RuntimeError, match="badge '1000001'"):
        upgrade(old_engine)
    assert current_revision(old_engine) == "0004"  # nothing applied: fix and upgrade again
    with old_engine.begin() as connection:
        connection.execute(sa.text("UPDATE people SET badge_number = '1000002' WHERE id = 2"))
    upgrade(old_engine)
    assert current_revision(old_engine) == head_revision()


def test_the_downgrade_restores_the_old_columns(old_engine: Engine) -> None:
    insert_old_rows(old_engine)
    upgrade(old_engine, "0005")
    upgrade_to_0004 = _downgrade(old_engine)
    upgrade_to_0004()
    assert current_revision(old_engine) == "0004"
    columns = {c["name"] for c in sa.inspect(old_engine).get_columns("people")}
    assert "initials" not in columns and "badge_number" in columns
    with old_engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM people")) == 2
    upgrade(old_engine, "0005")  # and up again
    assert current_revision(old_engine) == "0005"


def _downgrade(engine: Engine) -> Any:
    from alembic import command

    from chronodelta.storage._migrate import alembic_config

    def run() -> None:
        config = alembic_config()
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
            connection.commit()

    return run
