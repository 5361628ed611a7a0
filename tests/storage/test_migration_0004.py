"""Migration 0004: activity definition ids become GUIDs, existing data converted.

Seed 003's table types ``activityLevels.activityDefinition.id`` as a string, and the
vendor's activity definitions are GUIDs (contract, "Fidelity"). A database made by an
older version is upgraded to 0003, given old-style rows (integer ids, integer activity
levels, ``activity:1/2`` duration keys), and upgraded to the head: every id is the
documented ``uuid5(namespace, "<tenant name>:<old id>")``, the converted rows have new
change versions, and the API serves the GUIDs. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

import chronodelta.storage
from chronodelta.server import Settings, create_app, create_client
from chronodelta.storage import create_engine, current_revision, head_revision, upgrade
from chronodelta.testing import ThrowawayPostgres
from tests.server.conftest import USER_AGENT

# docs/api.md: the namespace of the GUIDs migration 0004 gives existing definitions.
NAMESPACE = uuid.UUID("5b0f4c1e-2a8d-4e51-9a57-0c3f3d6e9a04")
DAY = dt.date(2026, 1, 15)


def old_guid(tenant: str, old_id: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{tenant}:{old_id}"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """An empty database, not migrated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
        name = f"m_{uuid.uuid4().hex[:16]}"
        request.addfinalizer(lambda: cluster.drop_database(name))
        url = cluster.create_database(name)
    engine = create_engine(url)
    yield url, engine
    engine.dispose()


def insert(connection: sa.Connection, table: str, *rows: dict[str, Any]) -> None:
    """Rows into a table as the database has it now (reflected: the 0003 schema)."""
    reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
    connection.execute(reflected.insert(), list(rows))


def old_style_data(engine: Engine, *, data_entry_code: str = "P100-DEV") -> None:
    """What an older version stored: integer ids everywhere."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as c:
        insert(c, "tenants", {"id": 1, "name": "acme", "created_at": now},
               {"id": 2, "name": "globex", "created_at": now})  # fmt: skip
        insert(c, "tenant_counters", {"tenant_id": 1, "name": "change_version", "value": 100},
               {"tenant_id": 2, "name": "change_version", "value": 7})  # fmt: skip
        person = {"change_version": 1, "badge_number": "1", "employee_number": "E1",
                  "first_name": "Ann", "last_name": "Lee",
                  "in_service_date": dt.date(2020, 1, 6)}  # fmt: skip
        insert(c, "people", {"tenant_id": 1, "id": 1, **person},
               {"tenant_id": 2, "id": 1, **person})  # fmt: skip
        definition = {"name": "Customer portal", "level": 1, "parent_id": None,
                      "data_entry_code": "P100", "external_reference": "ERP-4711"}  # fmt: skip
        insert(
            c,
            "activity_definitions",
            {"tenant_id": 1, "id": 1, "change_version": 2, **definition},
            {"tenant_id": 1, "id": 2, "change_version": 3, **definition, "level": 2,
             "parent_id": 1, "data_entry_code": data_entry_code, "external_reference": ""},
            {"tenant_id": 2, "id": 1, "change_version": 2, **definition},
        )  # fmt: skip
        clocking = {"tenant_id": 1, "person_id": 1, "date": DAY, "time_of_day": 482,
                    "calculated_time_of_day": 482, "is_generated": False,
                    "status": "Active"}  # fmt: skip
        insert(
            c,
            "clockings",
            {**clocking, "id": 7, "change_version": 50, "kind": "Activity",
             "activity_levels": "[[1,1],[2,2]]"},
            {**clocking, "id": 8, "change_version": 51, "kind": "InOut", "activity_levels": None},
        )  # fmt: skip
        duration = {"tenant_id": 1, "person_id": 1, "date": DAY, "duration_minutes": 60,
                    "status": "Auto", "is_authorized": True}  # fmt: skip
        insert(
            c,
            "activity_durations",
            {**duration, "id": 3, "change_version": 60, "duration_key": "activity:1/2",
             "activity_levels": "[[1,1],[2,2]]"},
            {**duration, "id": 4, "change_version": 61, "duration_key": "absence:4",
             "activity_levels": None, "absence_definition_id": 4},
        )  # fmt: skip


def rows(engine: Engine, query: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(query)))


def test_existing_data_gets_stable_guids_and_new_change_versions(
    blank: tuple[str, Engine],
) -> None:
    url, engine = blank
    upgrade(engine, "0003")
    old_style_data(engine, data_entry_code="")
    upgrade(engine, "0004")  # later migrations may take versions too (0007 does)
    g1, g2 = old_guid("acme", 1), old_guid("acme", 2)
    definitions = rows(
        engine,
        "SELECT tenant_id, id, guid, structure_version, parent_guid, data_entry_code, "
        "external_reference, change_version FROM activity_definitions ORDER BY tenant_id, id",
    )
    acme_version = str(uuid.uuid5(NAMESPACE, "acme:structure-version"))
    globex_version = str(uuid.uuid5(NAMESPACE, "globex:structure-version"))
    assert [tuple(r[:7]) for r in definitions] == [
        (1, 1, g1, acme_version, None, "P100", "ERP-4711"),
        (1, 2, g2, acme_version, g1, None, None),  # empty codes become null
        (2, 1, old_guid("globex", 1), globex_version, None, "P100", "ERP-4711"),
    ]
    assert g1 != old_guid("globex", 1)  # the tenant is part of the name
    levels = json.dumps([[1, g1], [2, g2]], separators=(",", ":"))
    clockings = rows(
        engine, "SELECT id, activity_levels, change_version FROM clockings ORDER BY id"
    )
    assert [(r[0], r[1]) for r in clockings] == [(7, levels), (8, None)]
    durations = rows(
        engine,
        "SELECT id, duration_key, activity_levels, change_version FROM activity_durations "
        "ORDER BY id",
    )
    assert [tuple(r[:3]) for r in durations] == [
        (3, f"activity:{g1}/{g2}", levels),
        (4, "absence:4", None),
    ]
    # Every row whose wire form changed has a new version, above all the tenant had;
    # the others keep theirs. The counter and the overlap window's mark follow.
    new_versions = [r[7] for r in definitions[:2]] + [clockings[0][2], durations[0][3]]
    assert sorted(new_versions) == [101, 102, 103, 104]
    assert (clockings[1][2], durations[1][3], definitions[2][7]) == (51, 61, 8)
    counters = rows(
        engine,
        "SELECT tenant_id, value FROM tenant_counters WHERE name = 'change_version' "
        "ORDER BY tenant_id",
    )
    assert [tuple(r) for r in counters] == [(1, 104), (2, 8)]
    marks = rows(engine, "SELECT tenant_id, change_version FROM change_marks ORDER BY tenant_id")
    assert [tuple(r) for r in marks] == [(1, 104), (2, 8)]
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    served_over_http(url, engine, g1, g2)


def served_over_http(url: str, engine: Engine, g1: str, g2: str) -> None:
    """The API shows the converted data: GUID strings (seed 003)."""
    client = create_client(engine, "acme")
    app = create_app(Settings(database_url=url))
    with TestClient(app, headers={"User-Agent": USER_AGENT}) as http:
        token = http.post(
            "/tenants/acme/connect/token",
            data={"grant_type": "client_credentials", "client_id": client.client_id,
                  "client_secret": client.client_secret},
        ).json()["access_token"]  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        clocking = http.get("/connector/protimeapi/api/v1/clockings/7", headers=auth).json()
        assert clocking["activityLevels"] == [
            {"level": 1, "activityDefinition": {"id": g1}},
            {"level": 2, "activityDefinition": {"id": g2}},
        ]
        task = http.get(f"/connector/protimeapi/api/v1/activity-definitions/{g2}", headers=auth)
        assert task.json()["parent"] == {"id": g1}
        assert task.json()["name"] == {"default": "Customer portal", "translations": {}}


def test_a_code_longer_than_the_vendors_16_characters_stops_it_before_any_change(
    blank: tuple[str, Engine],
) -> None:
    """Contract, "Fidelity": dataEntryCode has at most 16 characters. Converting would
    lose data, so the upgrade refuses, naming the definition, and changes nothing."""
    _url, engine = blank
    upgrade(engine, "0003")
    old_style_data(engine, data_entry_code="P100-DEVELOPMENT-2")
    refusal = r"activity definition 2 of tenant 'acme'.*longer than 16"
    with pytest.raises(RuntimeError, match=refusal):
        upgrade(engine)
    assert current_revision(engine) == "0003"
    assert rows(engine, "SELECT data_entry_code FROM activity_definitions WHERE id = 2") == [
        ("P100-DEVELOPMENT-2",)
    ]


def test_a_downgrade_gives_the_integer_ids_back(blank: tuple[str, Engine]) -> None:
    _url, engine = blank
    upgrade(engine, "0003")
    old_style_data(engine)
    upgrade(engine)
    config = Config()
    config.set_main_option(
        "script_location", str(Path(chronodelta.storage.__file__).parent / "migrations")
    )
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
        connection.commit()
    levels = rows(engine, "SELECT activity_levels FROM clockings WHERE id = 7")
    assert levels == [("[[1,1],[2,2]]",)]
    assert rows(engine, "SELECT duration_key FROM activity_durations WHERE id = 3") == [
        ("activity:1/2",)
    ]
    assert rows(engine, "SELECT id, parent_id FROM activity_definitions WHERE tenant_id = 1") == [
        (1, None),
        (2, 1),
    ]
