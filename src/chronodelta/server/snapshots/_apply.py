"""Carry out a restore plan inside one tenant write transaction.

Every row written takes a new change version from the transaction (``storage``), so
versions stay strictly increasing and are never reused; a record removed gets a
removal departure, as a purged clocking does. The storage hook then turns these
versions into webhook events in the same transaction (``webhooks/_outbox.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from chronodelta.server.snapshots._plan import RestorePlan, TableChanges
from chronodelta.server.snapshots._state import (
    COLLECTION_OF,
    PLAIN_TABLES,
    STATE_TABLES,
    JsonRow,
    TableRows,
    TenantState,
    typed_rows,
)
from chronodelta.storage import WriteTransaction, tables


def apply_plan(tx: WriteTransaction, plan: RestorePlan, target: TenantState) -> None:
    # The plain tables point at people, so they go first and come back last; and
    # children go before their parents, and come back after them.
    if plan.replaced:
        for table in reversed(PLAIN_TABLES):
            tx.connection.execute(table.delete().where(table.c.tenant_id == tx.tenant_id))
    for changes in reversed(plan.versioned):
        _delete(tx, changes)
    for changes in plan.versioned:
        _update(tx, changes)
        _insert(tx, changes)
    if plan.replaced:
        for table in PLAIN_TABLES:
            rows = _parents_first(table, target.tables[table.name])
            if rows.rows:
                tx.connection.execute(table.insert(), typed_rows(table, rows, tx.tenant_id))
    for collection, last in plan.counters.items():
        tx.restore_id_counter(collection, last)


def _delete(tx: WriteTransaction, changes: TableChanges) -> None:
    if not changes.deleted:
        return
    table = STATE_TABLES[changes.table]
    ids = [row[changes.columns.index("id")] for row in changes.deleted]
    departures = [
        _departure(tx, changes, row, tx.next_change_version(), removed=True)
        for row in changes.deleted
    ]
    tx.connection.execute(tables.departures.insert(), departures)
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start : start + 500]
        tx.connection.execute(
            table.delete().where(table.c.tenant_id == tx.tenant_id, table.c.id.in_(chunk))
        )


def _update(tx: WriteTransaction, changes: TableChanges) -> None:
    if not changes.updated:
        return
    table = STATE_TABLES[changes.table]
    targets = TableRows(changes.columns, tuple(new for _old, new in changes.updated))
    rows = typed_rows(table, targets, tx.tenant_id)
    moved = []
    for (old, new), row in zip(changes.updated, rows, strict=True):
        row["change_version"] = tx.next_change_version()
        if _filter_attributes(changes, old) != _filter_attributes(changes, new):
            moved.append(_departure(tx, changes, old, row["change_version"], removed=False))
    if moved:
        tx.connection.execute(tables.departures.insert(), moved)
    names = [c for c in changes.columns if c != "id"]
    statement = (
        table.update()
        .where(table.c.tenant_id == sa.bindparam("b_tenant_id"), table.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in [*names, "change_version"]})
    )
    binds = [{f"b_{key}": value for key, value in row.items()} for row in rows]
    tx.connection.execute(statement, binds)


def _insert(tx: WriteTransaction, changes: TableChanges) -> None:
    if not changes.inserted:
        return
    table = STATE_TABLES[changes.table]
    rows = typed_rows(table, TableRows(changes.columns, changes.inserted), tx.tenant_id)
    for row in rows:
        row["change_version"] = tx.next_change_version()
    tx.connection.execute(table.insert(), rows)


def _filter_attributes(changes: TableChanges, row: JsonRow) -> tuple[Any, Any]:
    """The attributes a delta filters on (date, kind), as ``departures`` keeps them."""
    found = []
    for name in ("date", "kind"):
        value = row[changes.columns.index(name)] if name in changes.columns else None
        found.append(value)
    return found[0], found[1]


def _departure(
    tx: WriteTransaction, changes: TableChanges, row: JsonRow, version: int, *, removed: bool
) -> dict[str, Any]:
    date, kind = _filter_attributes(changes, row)
    return {
        "tenant_id": tx.tenant_id,
        "collection": COLLECTION_OF[changes.table],
        "record_id": row[changes.columns.index("id")],
        "change_version": version,
        "old_date": None if date is None else dt.date.fromisoformat(date),
        "old_kind": kind,
        "removed": removed,
    }


def _parents_first(table: sa.Table, rows: TableRows) -> TableRows:
    """Org groups ordered so that each comes after its parent (a self reference)."""
    if table is not tables.org_groups:
        return rows
    position, parent = rows.columns.index("id"), rows.columns.index("parent_id")
    placed: set[Any] = set()
    ordered: list[JsonRow] = []
    pending = list(rows.rows)
    while pending:
        ready = [r for r in pending if r[parent] is None or r[parent] in placed]
        if not ready:  # a cycle cannot be stored; keep the order and let the database say
            ordered += pending
            break
        ordered += ready
        placed.update(r[position] for r in ready)
        pending = [r for r in pending if r[position] not in placed]
    return TableRows(rows.columns, tuple(ordered))
