"""Snapshots in the database, and the restore transaction, by tenant id.

A snapshot is read in one snapshot read transaction (a consistent state while writers
go on) and stored in a second one. A restore is one tenant write transaction: it
holds the tenant's version lock (``storage/_transactions.py``), reads the current
state and the snapshot under it, writes only the difference, and ends the tenant's
open deltas, so a concurrent reader sees the old state or the new, never a mix.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chronodelta.server._clock import utc_now
from chronodelta.server.delta._tracker import end_tenant_deltas
from chronodelta.server.snapshots._apply import apply_plan
from chronodelta.server.snapshots._epoch import count_restore
from chronodelta.server.snapshots._plan import plan_restore
from chronodelta.server.snapshots._state import (
    STATE_TABLES,
    TenantState,
    decode_parts,
    encode_parts,
    read_state,
)
from chronodelta.storage import plain_write_transaction, read_transaction, tables, write_transaction

snapshots = tables.tenant_snapshots
parts = tables.tenant_snapshot_parts
# The snapshot seeding takes, which ``tenants reset`` restores.
SEEDED = "seeded"


@dataclass(frozen=True)
class SeedParameters:
    """What a tenant was seeded with (``seed_tenant``): the same give the same data."""

    people: int
    days: int
    seed: int
    until: dt.date


@dataclass(frozen=True)
class SnapshotInfo:
    tenant: str
    name: str
    created_at: dt.datetime
    rows: int
    seed: SeedParameters | None


@dataclass(frozen=True)
class RestoreResult:
    """What a restore changed: records per kind of change, the deltas it ended, and
    the change versions it used (``versions``, None when nothing differed)."""

    tenant: str
    snapshot: str
    deleted: int
    updated: int
    inserted: int
    deltas_ended: int
    versions: tuple[int, int] | None


class StoredSnapshotExists(Exception):
    pass


def capture(
    engine: Engine,
    owner: int,
    tenant: str,
    name: str,
    *,
    seed: SeedParameters | None = None,
    replace: bool = False,
) -> SnapshotInfo:
    """Store the tenant's current state as snapshot ``name``."""
    with read_transaction(engine, snapshot=True) as connection:
        state = read_state(connection, owner)
    created = utc_now()
    seed_text = None if seed is None else orjson.dumps(asdict(seed)).decode()
    try:
        with plain_write_transaction(engine) as connection:
            found = _snapshot_id(connection, owner, name)
            if found is not None and not replace:
                raise StoredSnapshotExists(name)
            if found is not None:
                _delete(connection, found)
            _insert(connection, owner, name, created, state, seed_text)
    except IntegrityError:  # another operator stored the same name meanwhile
        raise StoredSnapshotExists(name) from None
    return SnapshotInfo(tenant, name, created, state.row_count, seed)


def _insert(
    connection: sa.Connection,
    owner: int,
    name: str,
    created: dt.datetime,
    state: TenantState,
    seed: str | None,
) -> None:
    new_id = connection.scalar(
        snapshots.insert()
        .values(
            tenant_id=owner,
            name=name,
            created_at=created,
            counters=orjson.dumps(dict(state.counters)).decode(),
            seed=seed,
            row_count=state.row_count,
        )
        .returning(snapshots.c.id)
    )
    rows = [
        {"snapshot_id": new_id, "table_name": table, "part": number, "payload": payload}
        for table, table_rows in state.tables.items()
        for number, payload in enumerate(encode_parts(table_rows))
    ]
    for start in range(0, len(rows), 20):  # bounded statements (a part is up to ~1 MB)
        connection.execute(parts.insert(), rows[start : start + 20])


def list_stored(engine: Engine, owner: int, tenant: str) -> list[SnapshotInfo]:
    with read_transaction(engine) as connection:
        rows = connection.execute(
            sa.select(snapshots).where(snapshots.c.tenant_id == owner).order_by(snapshots.c.name)
        ).all()
    return [_info(tenant, row) for row in rows]


def delete_stored(engine: Engine, owner: int, name: str) -> bool:
    """Delete snapshot ``name``; False when the tenant has none by that name."""
    with plain_write_transaction(engine) as connection:
        found = _snapshot_id(connection, owner, name)
        if found is not None:
            _delete(connection, found)
    return found is not None


def restore(engine: Engine, owner: int, tenant: str, name: str) -> RestoreResult | None:
    """Bring the tenant back to snapshot ``name`` in one write transaction; None when
    there is no such snapshot (nothing was changed)."""
    with write_transaction(engine, owner) as tx:
        target = _load(tx.connection, owner, name)
        if target is None:
            return None
        ended = end_tenant_deltas(tx.connection, owner)
        count_restore(tx)  # lists walked across it answer 409 (_epoch.py)
        first = tx.last_change_version + 1
        plan = plan_restore(read_state(tx.connection, owner), target)
        apply_plan(tx, plan, target)
        last = tx.last_change_version
    deleted = sum(len(c.deleted) for c in plan.versioned)
    updated = sum(len(c.updated) for c in plan.versioned)
    inserted = sum(len(c.inserted) for c in plan.versioned)
    versions = (first, last) if last >= first else None
    return RestoreResult(tenant, name, deleted, updated, inserted, ended, versions)


def _load(connection: sa.Connection, owner: int, name: str) -> TenantState | None:
    row = connection.execute(
        sa.select(snapshots.c.id, snapshots.c.counters).where(
            snapshots.c.tenant_id == owner, snapshots.c.name == name
        )
    ).first()
    if row is None:
        return None
    stored = connection.execute(
        sa.select(parts.c.table_name, parts.c.payload)
        .where(parts.c.snapshot_id == row.id)
        .order_by(parts.c.table_name, parts.c.part)
    ).all()
    payloads: dict[str, list[str]] = {table: [] for table in STATE_TABLES}
    for part in stored:
        payloads.setdefault(part.table_name, []).append(part.payload)
    state = {
        table: decode_parts(table, texts)
        for table, texts in payloads.items()
        if table in STATE_TABLES
    }
    return TenantState(state, {k: int(v) for k, v in orjson.loads(row.counters).items()})


def _snapshot_id(connection: sa.Connection, owner: int, name: str) -> int | None:
    found = connection.scalar(
        sa.select(snapshots.c.id).where(snapshots.c.tenant_id == owner, snapshots.c.name == name)
    )
    return None if found is None else int(found)


def _delete(connection: sa.Connection, snapshot_id: int) -> None:
    connection.execute(parts.delete().where(parts.c.snapshot_id == snapshot_id))
    connection.execute(snapshots.delete().where(snapshots.c.id == snapshot_id))


def _info(tenant: str, row: Any) -> SnapshotInfo:
    seed = None
    if row.seed is not None:
        values = orjson.loads(row.seed)
        values["until"] = dt.date.fromisoformat(values["until"])
        seed = SeedParameters(**values)
    return SnapshotInfo(tenant, row.name, row.created_at, int(row.row_count), seed)
