"""The compiled page serializers (issue 14, item 2) write exactly what the per-record
path writes: for generated rows of every tracked collection, stored in SQLite and in
PostgreSQL, a page read by ``read_page`` (driver rows, the generated function) and the
same rows read as SQLAlchemy ``Row`` objects through the collection's ``to_wire`` (the
reference implementation, which gets and writes still use) give the same records and
the same JSON bytes: field order, left-out nulls, dates, booleans, floats, hex versions.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from chronodelta.domain import ActivityLevel
from chronodelta.server import create_tenant, seed_tenant
from chronodelta.server.delta._tracker import merge_removals
from chronodelta.server.records._compiled import KINDS
from chronodelta.server.records._serialize import dump_activity_levels
from chronodelta.server.records._tracked import TRACKED, TrackedCollection, read_page

# Generated rows get ids from here on, above the seeded ones they may refer to.
FIRST_ID = 1_000_000
MAX_BIGINT = 2**63 - 1
# Text a database can store: PostgreSQL refuses NUL, neither stores lone surrogates.
TEXT = st.characters(codec="utf-8", exclude_characters="\x00")
GUID = st.uuids().map(str)
JSON_TEXT: dict[str, st.SearchStrategy[str]] = {
    "activity_levels": st.lists(
        st.builds(ActivityLevel, st.integers(1, 10), GUID), min_size=1, max_size=3
    ).map(lambda levels: dump_activity_levels(levels) or "[]"),
    "counter_definition_ids": st.lists(st.integers(1, MAX_BIGINT), max_size=3).map(
        lambda ids: orjson.dumps(ids).decode()
    ),
    "allowed_durations": st.lists(st.sampled_from(["FullDay", "Interval"]), max_size=2).map(
        lambda names: orjson.dumps(names).decode()
    ),
}
TRANSLATIONS = st.dictionaries(st.sampled_from(["de", "fr", "nl"]), st.text(TEXT, max_size=8))


def values_of(column: sa.Column[Any], referents: dict[str, list[Any]]) -> st.SearchStrategy[Any]:
    """Any value ``column`` can hold (references: to rows the seed made)."""
    found: st.SearchStrategy[Any]
    if column.name in referents:
        found = st.sampled_from(referents[column.name])
    elif column.name.endswith("_translations"):
        found = TRANSLATIONS.map(lambda names: orjson.dumps(names).decode())
    elif column.name in JSON_TEXT:
        found = JSON_TEXT[column.name]
    elif column.name in ("guid", "parent_guid", "structure_version"):
        found = GUID
    elif isinstance(column.type, sa.Boolean):
        found = st.booleans()
    elif isinstance(column.type, sa.Date):
        found = st.dates()
    elif isinstance(column.type, sa.Float):
        found = st.floats(allow_nan=False, allow_infinity=False)
    elif isinstance(column.type, sa.BigInteger):
        found = st.integers(0, MAX_BIGINT)
    elif isinstance(column.type, sa.Integer):
        found = st.integers(-(2**31), 2**31 - 1)
    elif isinstance(column.type, sa.String):
        found = st.text(TEXT, max_size=column.type.length or 40)
    else:
        raise AssertionError(f"no strategy for {column}")
    return st.none() | found if column.nullable else found


def rows_of(
    tracked: TrackedCollection, tenant_id: int, referents: dict[str, list[Any]]
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """A few rows of the collection's table, with distinct keys and unique values."""
    table = tracked.table
    fixed = {"tenant_id": st.just(tenant_id), "id": st.integers(FIRST_ID, FIRST_ID + 10**6)}
    fixed["change_version"] = st.integers(1, MAX_BIGINT)
    row = st.fixed_dictionaries(
        {
            c.name: fixed[c.name] if c.name in fixed else values_of(c, referents)
            for c in table.columns
        }
    )
    unique: list[tuple[str, ...]] = [("id",)]
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            unique.append(tuple(c.name for c in constraint.columns if c.name != "tenant_id"))
    for index in table.indexes:
        if index.unique:
            unique.append(tuple(c.name for c in index.columns if c.name != "tenant_id"))
    keys = tuple(_key(names) for names in unique)
    return st.lists(row, min_size=1, max_size=5, unique_by=keys)


def _key(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    return lambda row: tuple(row[name] for name in names)


@pytest.fixture
def world(engine: Engine) -> tuple[int, dict[str, list[Any]]]:
    """A seeded tenant (rows to refer to) and the ids generated rows may refer to."""
    tenant = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=3, days=2, seed=2, until=dt.date(2026, 1, 20))
    referents: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for table, column in (
            ("people", "person_id"),
            ("terminals", "terminal_id"),
            ("absence_definitions", "reason_id"),
            ("absence_definitions", "absence_definition_id"),
            ("shift_definitions", "shift_definition_id"),
        ):
            found = sa.table(table, sa.column("id"), sa.column("tenant_id"))
            query = sa.select(found.c.id).where(found.c.tenant_id == tenant)
            referents[column] = list(connection.scalars(query))
    return tenant, referents


def reference_records(
    connection: sa.Connection, tracked: TrackedCollection, tenant_id: int
) -> list[dict[str, Any]]:
    """The generated rows through the per-record path: ``Row`` objects, ``to_wire``."""
    table = tracked.table
    query = (
        sa.select(*tracked.columns)
        .where(table.c.tenant_id == tenant_id, table.c.id >= FIRST_ID)
        .order_by(*tracked.keyset())
    )
    return [tracked.to_wire(row) for row in connection.execute(query)]


@pytest.mark.parametrize("name", sorted(TRACKED))
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_compiled_page_is_the_per_record_json(
    engine: Engine, world: tuple[int, dict[str, list[Any]]], name: str, data: st.DataObject
) -> None:
    tenant_id, referents = world
    tracked = TRACKED[name]
    rows = data.draw(rows_of(tracked, tenant_id, referents))
    with engine.connect() as connection:
        connection.execute(tracked.table.insert(), rows)
        expected = reference_records(connection, tracked, tenant_id)
        mine = tracked.table.c.id >= FIRST_ID
        page = read_page(connection, tracked, tenant_id, None, None, 100, where=[mine])
        connection.rollback()
    assert page.records == expected
    assert orjson.dumps(page.records) == orjson.dumps(expected)
    assert len(expected) == len(rows) and page.next_key is None


def test_every_field_kind_is_compiled() -> None:
    used = {field.kind for tracked in TRACKED.values() for field in tracked.fields}
    assert used == set(KINDS)
    assert all(tracked.fields for tracked in TRACKED.values())


VERSIONS = st.lists(st.integers(1, 10**6), unique=True).map(sorted)


def as_item(version: int) -> tuple[str, dict[str, Any]]:
    return f"{version:020X}", {"version": version}


@settings(max_examples=200)
@given(versions=VERSIONS, chunk=st.integers(1, 5), data=st.data())
def test_removals_merge_into_the_chunks_in_version_order(
    versions: list[int], chunk: int, data: st.DataObject
) -> None:
    """The change feed's merge (delta/_tracker.py): the same order as a heap merge of
    the two version-ordered streams, whatever the chunks (some may come out empty)."""
    removed = [v for v in versions if data.draw(st.booleans())]
    current = [v for v in versions if v not in set(removed)]
    chunks = [
        [as_item(v) for v in current[at : at + chunk] if data.draw(st.booleans())]
        for at in range(0, len(current), chunk)
    ]
    kept = [item for batch in chunks for item in batch]
    batches = list(merge_removals(iter(chunks), map(as_item, removed)))
    merged = [item for batch in batches for item in batch]
    assert merged == list(heapq.merge(kept, map(as_item, removed), key=lambda item: item[0]))
