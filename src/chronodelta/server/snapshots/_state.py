"""A tenant's state as a value: what a snapshot holds and a restore brings back.

Issue 13, item 4: a reset restores "the seeded state (same seed, same data, totals,
references)". *State* is everything an integration reads through the API or its
filters: every collection (reference data, clockings, the calculated totals), the
custom external references, the org tree and the circles, and the id counters (so
that the ids handed out after a restore are those handed out after the snapshot,
and a test run is repeatable). *Configuration* is left alone: API clients, operators,
signing keys, webhook subscriptions, fault rules, the request log and the tenant
clock; delta bookkeeping (deltas, departures, change marks) is history, not state.

Rows are kept in their JSON form (dates and times as ISO text), the form a snapshot
stores, so that the current state and a stored one compare as plain tuples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from chronodelta.storage import tables

JsonRow = tuple[Any, ...]

# Parents before children: inserts run in this order, deletes in reverse.
VERSIONED_TABLES: tuple[sa.Table, ...] = (
    tables.shift_definitions,
    tables.terminals,
    tables.absence_definitions,
    tables.counter_definitions,
    tables.activity_definitions,
    tables.people,
    tables.clockings,
    tables.paid_presences,
    tables.activity_durations,
    tables.calculated_totals,
)
# Not API collections (no change versions): replaced whole when they differ.
PLAIN_TABLES: tuple[sa.Table, ...] = (
    tables.org_groups,
    tables.org_group_members,
    tables.circles,
    tables.circle_members,
    tables.external_references,
)
STATE_TABLES = {table.name: table for table in (*VERSIONED_TABLES, *PLAIN_TABLES)}
COLLECTION_OF = {table.name: name for name, table in tables.COLLECTION_TABLES.items()}
TABLE_OF = {name: table for table, name in COLLECTION_OF.items()}
# Columns a snapshot leaves out: the tenant is the one restored, and a restored row
# gets a new change version (versions are never reused, contract "Delta").
_OMITTED = {"tenant_id", "change_version"}


def state_columns(table: sa.Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c.name not in _OMITTED)


@dataclass(frozen=True)
class TableRows:
    """One table's rows of one tenant, in key order, as JSON-form tuples."""

    columns: tuple[str, ...]
    rows: tuple[JsonRow, ...]

    def by_id(self) -> dict[Any, JsonRow]:
        position = self.columns.index("id")
        return {row[position]: row for row in self.rows}


@dataclass(frozen=True)
class TenantState:
    tables: Mapping[str, TableRows]
    counters: Mapping[str, int]  # id counters by collection (not change_version)

    @property
    def row_count(self) -> int:
        return sum(len(t.rows) for t in self.tables.values())


def read_state(connection: sa.Connection, tenant_id: int) -> TenantState:
    """The tenant's state as ``connection`` sees it (use one snapshot transaction)."""
    found = {
        name: TableRows(state_columns(table), tuple(_json_rows(connection, table, tenant_id)))
        for name, table in STATE_TABLES.items()
    }
    return TenantState(found, read_id_counters(connection, tenant_id))


def read_id_counters(connection: sa.Connection, tenant_id: int) -> dict[str, int]:
    counters = tables.tenant_counters
    rows = connection.execute(
        sa.select(counters.c.name, counters.c.value).where(
            counters.c.tenant_id == tenant_id,
            counters.c.name.in_(sorted(tables.COLLECTION_TABLES)),
        )
    )
    return {row.name: int(row.value) for row in rows}


def _json_rows(connection: sa.Connection, table: sa.Table, tenant_id: int) -> Iterator[JsonRow]:
    columns = [table.c[name] for name in state_columns(table)]
    keys = [c for c in table.primary_key.columns if c.name != "tenant_id"]
    query = sa.select(*columns).where(table.c.tenant_id == tenant_id).order_by(*keys)
    for row in connection.execute(query):
        yield tuple(_to_json(value) for value in row)


def _to_json(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    return value


# ---- the stored form: parts of {"columns": [...], "rows": [[...], ...]} -------------

PART_ROWS = 5000


def encode_parts(rows: TableRows) -> list[str]:
    """The table's rows as JSON texts of at most ``PART_ROWS`` rows each."""
    return [
        orjson.dumps(
            {"columns": rows.columns, "rows": rows.rows[start : start + PART_ROWS]}
        ).decode()
        for start in range(0, len(rows.rows), PART_ROWS)
    ]


def decode_parts(table_name: str, payloads: Sequence[str]) -> TableRows:
    """The rows of a table's stored parts (in part order), in today's column order.

    A column added since the snapshot was taken gets its default (None)."""
    current = state_columns(STATE_TABLES[table_name])
    rows: list[JsonRow] = []
    for payload in payloads:
        part = orjson.loads(payload)
        stored = {name: i for i, name in enumerate(part["columns"])}
        picks = [stored.get(name) for name in current]
        rows += [tuple(None if i is None else row[i] for i in picks) for row in part["rows"]]
    return TableRows(current, tuple(rows))


# ---- from the JSON form back to values the database takes ----------------------------


def _parse_date(value: Any) -> Any:
    return None if value is None else dt.date.fromisoformat(value)


def _parse_datetime(value: Any) -> Any:
    return None if value is None else dt.datetime.fromisoformat(value)


def _same(value: Any) -> Any:
    return value


def _parser(column: sa.Column[Any]) -> Callable[[Any], Any]:
    if isinstance(column.type, sa.DateTime):
        return _parse_datetime
    if isinstance(column.type, sa.Date):
        return _parse_date
    return _same


def typed_rows(table: sa.Table, rows: TableRows, tenant_id: int) -> list[dict[str, Any]]:
    """Insertable dicts of ``rows`` for ``tenant_id`` (no change version yet)."""
    parsers = [(name, _parser(table.c[name])) for name in rows.columns]
    return [
        {
            "tenant_id": tenant_id,
            **{name: parse(v) for (name, parse), v in zip(parsers, row, strict=True)},
        }
        for row in rows.rows
    ]
