"""The mirror's schema version: an older mirror is upgraded by its numbered steps when
opened, once; a newer one is refused; a current one is opened without a write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chronodelta import storage
from chronodelta.sync import (
    FatalSyncError,
    Mirror,
    MirrorRefused,
    SyncState,
    _schema,
    begin_generation,
    new_state,
)
from chronodelta.sync._schema import MIRROR_SCHEMA_VERSION, stored_version
from chronodelta.sync._tables import metadata, schema_table, state_table

STATE = begin_generation(new_state("clockings", "src#acme", "date ge '2026-01-01'", ""))


def in_write(target: str, work: Callable[[Connection], None]) -> None:
    engine = storage.create_engine(target)
    try:
        with storage.plain_write_transaction(engine) as connection:
            work(connection)
    finally:
        engine.dispose()


def version_of(target: str) -> int | None:
    engine = storage.create_engine(target)
    try:
        with storage.read_transaction(engine) as connection:
            return stored_version(connection)
    finally:
        engine.dispose()


def stored_rows(target: str) -> list[int]:
    engine = storage.create_engine(target)
    try:
        with storage.read_transaction(engine) as connection:
            return list(connection.scalars(sa.select(schema_table.c.version)))
    finally:
        engine.dispose()


def make_unversioned_mirror(target: str, version: int) -> None:
    """A mirror as chronodelta left it before the schema version was stored: version 1
    has no ``client_id`` in its state table, version 2 has. It holds one state row."""

    def create(connection: Connection) -> None:
        keep = [t for t in metadata.sorted_tables if t not in (schema_table, state_table)]
        metadata.create_all(connection, tables=keep)
        if version >= 2:
            state_table.create(connection)
            connection.execute(state_table.insert().values(**_values(STATE)))
            return
        first = sa.MetaData()
        v1_state = sa.Table(
            state_table.name,
            first,
            *(
                sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                for c in state_table.c
                if c.name != "client_id"
            ),
        )
        first.create_all(connection)
        values = _values(STATE)
        del values["client_id"]
        connection.execute(v1_state.insert().values(**values))

    in_write(target, create)


def _values(state: SyncState) -> dict[str, object]:
    return {name: getattr(state, name) for name in state_table.c.keys()}  # noqa: SIM118


@pytest.fixture
def steps_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The upgrade steps run, in order (each still does its work)."""
    ran: list[int] = []
    for number, step in list(_schema.UPGRADES.items()):

        def counted(
            connection: Connection, step: Callable[..., None] = step, n: int = number
        ) -> None:
            ran.append(n)
            step(connection)

        monkeypatch.setitem(_schema.UPGRADES, number, counted)
    return ran


def test_a_mirror_without_client_id_is_upgraded_once_by_the_numbered_step(
    mirror_target: str, steps_run: list[int]
) -> None:
    make_unversioned_mirror(mirror_target, 1)
    assert version_of(mirror_target) == 1
    mirror = Mirror(mirror_target)
    try:
        state = mirror.state("clockings")
        mirror.save(state, begin_generation(STATE))  # the upgraded table takes writes
    finally:
        mirror.close()
    # Its old row keeps its values, with no API client: the next sync starts a new delta.
    assert state == STATE and state.client_id == ""
    assert steps_run == [2]
    assert version_of(mirror_target) == MIRROR_SCHEMA_VERSION
    assert stored_rows(mirror_target) == [MIRROR_SCHEMA_VERSION]
    Mirror(mirror_target).close()
    assert steps_run == [2]  # opened again: nothing left to do


def test_a_mirror_with_client_id_but_no_version_is_only_stamped(
    mirror_target: str, steps_run: list[int]
) -> None:
    make_unversioned_mirror(mirror_target, 2)
    mirror = Mirror(mirror_target)
    try:
        assert mirror.state("clockings") == STATE
    finally:
        mirror.close()
    assert steps_run == [] and stored_rows(mirror_target) == [MIRROR_SCHEMA_VERSION]


def test_a_new_mirror_is_made_at_the_current_version(
    mirror_target: str, steps_run: list[int]
) -> None:
    Mirror(mirror_target).close()
    assert steps_run == [] and stored_rows(mirror_target) == [MIRROR_SCHEMA_VERSION]


def test_a_mirror_of_a_newer_schema_is_refused_and_left_alone(mirror_target: str) -> None:
    Mirror(mirror_target).close()
    newer = MIRROR_SCHEMA_VERSION + 1

    def stamp(connection: Connection) -> None:
        connection.execute(schema_table.update().values(version=newer))

    in_write(mirror_target, stamp)
    with pytest.raises(MirrorRefused, match="newer chronodelta") as raised:
        Mirror(mirror_target)
    assert isinstance(raised.value, FatalSyncError)
    assert stored_rows(mirror_target) == [newer]


def test_a_step_that_fails_leaves_the_old_mirror_as_it_was(
    mirror_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_unversioned_mirror(mirror_target, 1)

    def broken(connection: Connection) -> None:
        _schema._add_client_id(connection)
        connection.exec_driver_sql("SELECT no_such_column FROM chronodelta_sync_state")

    monkeypatch.setitem(_schema.UPGRADES, 2, broken)
    with pytest.raises(MirrorRefused, match="cannot open the mirror"):
        Mirror(mirror_target)
    assert version_of(mirror_target) == 1  # the ALTER TABLE rolled back with the rest
