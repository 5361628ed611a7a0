"""activity definition ids become GUIDs, in the vendor's shape (issue 11, items 2 and 6)

Seed 003 types ``activityLevels.activityDefinition.id`` as a string and the vendor
identifies activity definitions by GUIDs. Each existing definition gets a stable GUID
derived from its tenant's name and its old integer id::

    uuid5(LEGACY_NAMESPACE, f"{tenant name}:{old id}")

(so that an integrator holding old ids can compute the new ones), and each tenant one
activity structure version, ``uuid5(LEGACY_NAMESPACE, f"{tenant name}:structure-version")``.
The old integer id stays as the table's surrogate key, which the API no longer shows.
The activity levels stored with clockings and activity durations (JSON
``[[level, id], ...]``) and the durations' keys (``activity:12/31``) are rewritten to
the GUIDs, and every row whose wire form changed (the definitions, and each clocking
and duration with activity levels) takes a new change version, so that open deltas
deliver the new ids and ETags held by clients no longer match.

The new vendor fields (name translations, short code, info, active from/until) start
empty; empty codes become null. The vendor allows at most 16 characters in a data entry
code and an external reference, and an external reference only once per structure
version and level: a database with a definition that breaks either is refused before
anything changes, with a message naming it (shorten or rename it, then upgrade again).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Fixed forever: the GUIDs of migrated definitions are derived from it (docs/api.md).
LEGACY_NAMESPACE = uuid.UUID("5b0f4c1e-2a8d-4e51-9a57-0c3f3d6e9a04")
CODE_MAX = 16
BATCH = 1000

_tenants = sa.table("tenants", sa.column("id"), sa.column("name"))
_counters = sa.table(
    "tenant_counters", sa.column("tenant_id"), sa.column("name"), sa.column("value")
)
_marks = sa.table(
    "change_marks", sa.column("tenant_id"), sa.column("change_version"), sa.column("committed_at")
)
_definitions = sa.table(
    "activity_definitions",
    sa.column("tenant_id"),
    sa.column("id"),
    sa.column("change_version"),
    sa.column("level"),
    sa.column("parent_id"),
    sa.column("data_entry_code"),
    sa.column("external_reference"),
    sa.column("guid"),
    sa.column("structure_version"),
    sa.column("parent_guid"),
)
_clockings = sa.table(
    "clockings",
    sa.column("tenant_id"),
    sa.column("id"),
    sa.column("change_version"),
    sa.column("activity_levels"),
)
_durations = sa.table(
    "activity_durations",
    sa.column("tenant_id"),
    sa.column("id"),
    sa.column("change_version"),
    sa.column("activity_levels"),
    sa.column("duration_key"),
)
GUID = sa.String(36)


def legacy_guid(tenant_name: str, old_id: int) -> str:
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{tenant_name}:{old_id}"))


def structure_version_guid(tenant_name: str) -> str:
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{tenant_name}:structure-version"))


def upgrade() -> None:
    connection = op.get_bind()
    tenants = dict(connection.execute(sa.select(_tenants.c.id, _tenants.c.name)).all())
    _refuse_unconvertible(connection, tenants)
    with op.batch_alter_table("activity_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("guid", GUID, nullable=True))
        batch_op.add_column(sa.Column("structure_version", GUID, nullable=True))
        batch_op.add_column(sa.Column("name_translations", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("parent_guid", GUID, nullable=True))
        batch_op.add_column(sa.Column("short_code", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("info", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("active_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("active_until", sa.Date(), nullable=True))
        batch_op.alter_column(
            "data_entry_code",
            existing_type=sa.String(length=40),
            type_=sa.String(length=CODE_MAX),
            nullable=True,
        )
        batch_op.alter_column(
            "external_reference",
            existing_type=sa.String(length=100),
            type_=sa.String(length=CODE_MAX),
            nullable=True,
        )
    for tenant_id, name in tenants.items():
        _convert_tenant(connection, tenant_id, name)
    with op.batch_alter_table("activity_definitions", schema=None) as batch_op:
        batch_op.alter_column("guid", existing_type=GUID, nullable=False)
        batch_op.alter_column("structure_version", existing_type=GUID, nullable=False)
        batch_op.drop_column("parent_id")
        batch_op.create_unique_constraint(
            "uq_activity_definitions_tenant_id_guid", ["tenant_id", "guid"]
        )
        batch_op.create_unique_constraint(
            "uq_activity_definitions_reference_in_level",
            ["tenant_id", "structure_version", "level", "external_reference"],
        )
    with op.batch_alter_table("activity_durations", schema=None) as batch_op:
        batch_op.alter_column(
            "duration_key",
            existing_type=sa.String(length=200),
            type_=sa.String(length=400),
            existing_nullable=False,
        )


def _refuse_unconvertible(connection: sa.Connection, tenants: dict[int, str]) -> None:
    """Stop before any change if a definition breaks the vendor's code rules."""
    d = _definitions.c
    rows = connection.execute(
        sa.select(d.tenant_id, d.id, d.level, d.data_entry_code, d.external_reference)
    ).all()
    problems: list[str] = []
    seen: dict[tuple[int, int, str], int] = {}
    for row in rows:
        where = f"activity definition {row.id} of tenant {tenants.get(row.tenant_id)!r}"
        for field, value in (("dataEntryCode", row.data_entry_code),
                             ("externalReference", row.external_reference)):  # fmt: skip
            if value and len(value) > CODE_MAX:
                problems.append(f"{where}: {field} {value!r} is longer than {CODE_MAX} characters")
        if row.external_reference:
            key = (row.tenant_id, row.level, row.external_reference)
            if key in seen:
                problems.append(
                    f"{where}: externalReference {row.external_reference!r} is also that of "
                    f"definition {seen[key]} on level {row.level}"
                )
            seen[key] = row.id
    if problems:
        raise RuntimeError(
            "migration 0004 cannot convert the activity definitions (the vendor allows at "
            "most 16 characters in a code, and an external reference once per level); "
            "nothing was changed. Fix these, then upgrade again: " + "; ".join(problems)
        )


def _convert_tenant(connection: sa.Connection, tenant_id: int, name: str) -> None:
    versions = _VersionCounter(connection, tenant_id)
    d = _definitions.c
    rows = connection.execute(
        sa.select(d.id, d.parent_id, d.data_entry_code, d.external_reference)
        .where(d.tenant_id == tenant_id)
        .order_by(d.id)
    ).all()
    structure = structure_version_guid(name)
    _update_many(
        connection,
        _definitions,
        tenant_id,
        [
            {
                "k_id": row.id,
                "guid": legacy_guid(name, row.id),
                "structure_version": structure,
                "parent_guid": None if row.parent_id is None else legacy_guid(name, row.parent_id),
                "data_entry_code": row.data_entry_code or None,
                "external_reference": row.external_reference or None,
                "change_version": versions.next(),
            }
            for row in rows
        ],
    )
    _convert_levels(connection, _clockings, tenant_id, versions, lambda old: legacy_guid(name, old))
    _convert_levels(connection, _durations, tenant_id, versions, lambda old: legacy_guid(name, old))
    versions.save()


def _convert_levels(
    connection: sa.Connection, table: Any, tenant_id: int, versions: _VersionCounter, to_guid: Any
) -> None:
    """Rewrite the activity levels of one tenant's rows of ``table`` (and duration keys)."""
    has_key = "duration_key" in table.c
    columns = [table.c.id, table.c.activity_levels, *([table.c.duration_key] if has_key else [])]
    rows = connection.execute(
        sa.select(*columns)
        .where(table.c.tenant_id == tenant_id, table.c.activity_levels.is_not(None))
        .order_by(table.c.id)
    ).all()
    updates = []
    for row in rows:
        levels = [[level, to_guid(int(old))] for level, old in json.loads(row.activity_levels)]
        values = {
            "k_id": row.id,
            "activity_levels": json.dumps(levels, separators=(",", ":")),
            "change_version": versions.next(),
        }
        if has_key and row.duration_key.startswith("activity:"):
            values["duration_key"] = "activity:" + "/".join(guid for _, guid in levels)
        updates.append(values)
    _update_many(connection, table, tenant_id, updates)


def _update_many(
    connection: sa.Connection, table: Any, tenant_id: int, rows: list[dict[str, Any]]
) -> None:
    """Executemany UPDATEs keyed by (tenant, id), grouped by the columns they set."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(sorted(k for k in row if k != "k_id")), []).append(row)
    for names, group in by_columns.items():
        statement = (
            table.update()
            .where(table.c.tenant_id == tenant_id, table.c.id == sa.bindparam("k_id"))
            .values({name: sa.bindparam(name) for name in names})
        )
        for start in range(0, len(group), BATCH):
            connection.execute(statement, group[start : start + BATCH])


class _VersionCounter:
    """The tenant's change versions, handed out as a write transaction does."""

    def __init__(self, connection: sa.Connection, tenant_id: int) -> None:
        self.connection, self.tenant_id = connection, tenant_id
        self._key = (_counters.c.tenant_id == tenant_id, _counters.c.name == "change_version")
        found = connection.scalar(sa.select(_counters.c.value).where(*self._key))
        self.first = self.last = int(found or 0)
        self.exists = found is not None

    def next(self) -> int:
        self.last += 1
        return self.last

    def save(self) -> None:
        if self.last == self.first:
            return
        if self.exists:
            self.connection.execute(_counters.update().where(*self._key).values(value=self.last))
        else:
            self.connection.execute(
                _counters.insert().values(
                    tenant_id=self.tenant_id, name="change_version", value=self.last
                )
            )
        # When the new versions became visible, for delta's overlap window.
        self.connection.execute(
            _marks.insert().values(
                tenant_id=self.tenant_id,
                change_version=self.last,
                committed_at=dt.datetime.now(dt.UTC),
            )
        )


# ---- downgrade ---------------------------------------------------------------------------


def downgrade() -> None:
    """Back to integer ids (the surrogate keys); the vendor-only fields are dropped."""
    connection = op.get_bind()
    tenants = [row[0] for row in connection.execute(sa.select(_tenants.c.id))]
    with op.batch_alter_table("activity_durations", schema=None) as batch_op:
        batch_op.alter_column(
            "duration_key",
            existing_type=sa.String(length=400),
            type_=sa.String(length=200),
            existing_nullable=False,
        )
    with op.batch_alter_table("activity_definitions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_activity_definitions_reference_in_level", type_="unique")
        batch_op.drop_constraint("uq_activity_definitions_tenant_id_guid", type_="unique")
        batch_op.add_column(sa.Column("parent_id", sa.BigInteger(), nullable=True))
    for tenant_id in tenants:
        _restore_tenant(connection, tenant_id)
    with op.batch_alter_table("activity_definitions", schema=None) as batch_op:
        for column, length in (("data_entry_code", 40), ("external_reference", 100)):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=CODE_MAX),
                type_=sa.String(length=length),
                nullable=False,
            )
        for column in ("active_until", "active_from", "info", "short_code", "parent_guid",
                       "name_translations", "structure_version", "guid"):  # fmt: skip
            batch_op.drop_column(column)


def _restore_tenant(connection: sa.Connection, tenant_id: int) -> None:
    d = _definitions.c
    rows = connection.execute(
        sa.select(d.id, d.guid, d.parent_guid, d.data_entry_code, d.external_reference).where(
            d.tenant_id == tenant_id
        )
    ).all()
    old_ids = {row.guid: row.id for row in rows}

    def to_id(guid: str) -> int:
        if guid not in old_ids:
            raise RuntimeError(f"tenant {tenant_id}: activity definition {guid} does not exist")
        return int(old_ids[guid])

    _update_many(
        connection,
        _definitions,
        tenant_id,
        [
            {
                "k_id": row.id,
                "parent_id": None if row.parent_guid is None else to_id(row.parent_guid),
                "data_entry_code": row.data_entry_code or "",
                "external_reference": row.external_reference or "",
            }
            for row in rows
        ],
    )
    for table in (_clockings, _durations):
        _restore_levels(connection, table, tenant_id, to_id)


def _restore_levels(connection: sa.Connection, table: Any, tenant_id: int, to_id: Any) -> None:
    has_key = "duration_key" in table.c
    rows: Iterable[Any] = connection.execute(
        sa.select(table.c.id, table.c.activity_levels).where(
            table.c.tenant_id == tenant_id, table.c.activity_levels.is_not(None)
        )
    ).all()
    updates = []
    for row in rows:
        levels = [[level, to_id(guid)] for level, guid in json.loads(row.activity_levels)]
        values = {"k_id": row.id, "activity_levels": json.dumps(levels, separators=(",", ":"))}
        if has_key:
            values["duration_key"] = "activity:" + "/".join(str(old) for _, old in levels)
        updates.append(values)
    _update_many(connection, table, tenant_id, updates)
