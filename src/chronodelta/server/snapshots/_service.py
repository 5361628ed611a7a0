"""The operator tasks, by tenant name: what the CLI, the admin API and the console call.

Issue 13, item 4: ``tenants reset T`` restores the tenant's seeded state, keeping its
API clients; ``tenants snapshot T NAME`` / ``tenants restore T NAME`` for any other
state. The seeded state is the snapshot ``seeded`` that ``seed_tenant`` takes once
it has seeded (with its seed parameters), so a reset restores exactly what seeding
wrote, whatever the generator does in later versions.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine

from chronodelta.server.admin._tenants import AdminError, tenant_id
from chronodelta.server.snapshots._store import (
    SEEDED,
    RestoreResult,
    SnapshotInfo,
    StoredSnapshotExists,
    capture,
    delete_stored,
    list_stored,
    restore,
)

SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class TenantNotFound(AdminError):
    """No tenant has that name."""


class SnapshotNotFound(AdminError):
    """The tenant has no snapshot of that name."""


class SnapshotExists(AdminError):
    """The tenant has a snapshot of that name already (and no replace was asked)."""


def snapshot_tenant(
    engine: Engine, tenant: str, name: str, *, replace: bool = False
) -> SnapshotInfo:
    """Save the tenant's current state as ``name`` (``replace``: over an existing one)."""
    owner = _owner(engine, tenant)
    _check_name(name)
    try:
        return capture(engine, owner, tenant, name, replace=replace)
    except StoredSnapshotExists:
        raise SnapshotExists(
            f"tenant {tenant!r} already has a snapshot {name!r}; "
            "delete it first or replace it (--replace)"
        ) from None


def restore_tenant(engine: Engine, tenant: str, name: str) -> RestoreResult:
    """Bring the tenant's state back to snapshot ``name``; its open deltas end (410)."""
    owner = _owner(engine, tenant)
    result = restore(engine, owner, tenant, name)
    if result is None:
        raise SnapshotNotFound(
            f"tenant {tenant!r} has no snapshot {name!r} "
            f"(list them with: chronodelta tenants snapshots {tenant})"
        )
    return result


def reset_tenant(engine: Engine, tenant: str) -> RestoreResult:
    """Restore the state seeding left (the ``seeded`` snapshot)."""
    owner = _owner(engine, tenant)
    result = restore(engine, owner, tenant, SEEDED)
    if result is None:
        raise SnapshotNotFound(
            f"tenant {tenant!r} has no seeded state to reset to: it was never seeded, or "
            "seeded before snapshots existed, or its 'seeded' snapshot was deleted; record "
            f"the state to reset to with: chronodelta tenants snapshot {tenant} {SEEDED}"
        )
    return result


def list_snapshots(engine: Engine, tenant: str) -> list[SnapshotInfo]:
    return list_stored(engine, _owner(engine, tenant), tenant)


def delete_snapshot(engine: Engine, tenant: str, name: str) -> None:
    if not delete_stored(engine, _owner(engine, tenant), name):
        raise SnapshotNotFound(f"tenant {tenant!r} has no snapshot {name!r}")


def _owner(engine: Engine, tenant: str) -> int:
    try:
        return tenant_id(engine, tenant)
    except AdminError as exc:
        raise TenantNotFound(str(exc)) from None


def _check_name(name: str) -> None:
    if not SNAPSHOT_NAME.fullmatch(name):
        raise AdminError(
            f"invalid snapshot name {name!r}: up to 64 letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
