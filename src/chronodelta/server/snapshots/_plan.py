"""What a restore must change: the difference of two states, a pure function.

Only what differs is written, so a reset after a few API calls writes a few rows, and
a webhook subscriber (issue 12, item 2: "tenant resets" become events) gets an event
per record that really changed: ``Delete`` for a record the target state does not
have, ``InsertOrUpdate`` for one it brings back or changes. Records equal in both
keep their version: their content is already the target's.
"""

from __future__ import annotations

from dataclasses import dataclass

from chronodelta.server.snapshots._state import (
    PLAIN_TABLES,
    TABLE_OF,
    VERSIONED_TABLES,
    JsonRow,
    TableRows,
    TenantState,
)


@dataclass(frozen=True)
class TableChanges:
    """One versioned table's changes; rows in the JSON form of ``columns``."""

    table: str
    columns: tuple[str, ...]
    deleted: tuple[JsonRow, ...]  # current rows the target has no row for
    updated: tuple[tuple[JsonRow, JsonRow], ...]  # (current, target) of one id
    inserted: tuple[JsonRow, ...]  # target rows with ids the tenant has not

    @property
    def count(self) -> int:
        return len(self.deleted) + len(self.updated) + len(self.inserted)


@dataclass(frozen=True)
class RestorePlan:
    versioned: tuple[TableChanges, ...]  # in VERSIONED_TABLES order (parents first)
    replaced: tuple[str, ...]  # plain tables whose rows differ, parents first
    counters: dict[str, int]  # id counters to set

    @property
    def changed_records(self) -> int:
        return sum(changes.count for changes in self.versioned)


def plan_restore(current: TenantState, target: TenantState) -> RestorePlan:
    versioned = tuple(
        _table_changes(table.name, current.tables[table.name], target.tables[table.name])
        for table in VERSIONED_TABLES
    )
    replaced = tuple(
        table.name
        for table in PLAIN_TABLES
        if current.tables[table.name].rows != target.tables[table.name].rows
    )
    return RestorePlan(
        tuple(changes for changes in versioned if changes.count),
        replaced,
        _counters(current, target),
    )


def _table_changes(name: str, current: TableRows, target: TableRows) -> TableChanges:
    assert current.columns == target.columns, name
    now, wanted = current.by_id(), target.by_id()
    return TableChanges(
        name,
        target.columns,
        deleted=tuple(row for key, row in now.items() if key not in wanted),
        updated=tuple(
            (now[key], row) for key, row in wanted.items() if key in now and now[key] != row
        ),
        inserted=tuple(row for key, row in wanted.items() if key not in now),
    )


def _counters(current: TenantState, target: TenantState) -> dict[str, int]:
    """The target's id counters; one the target never had (a collection added since
    its snapshot was taken) goes back to the highest id of the target's rows."""
    counters = dict(target.counters)
    for name in current.counters.keys() - target.counters.keys():
        rows = target.tables.get(TABLE_OF.get(name, ""))
        counters[name] = max(rows.by_id(), default=0) if rows else 0
    return counters
