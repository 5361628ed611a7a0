"""The mirror's schema version, and the numbered steps that upgrade an older mirror.

A mirror is a database its user keeps, queries and backs up, so a newer chronodelta
must open one that an older one made. Every change to the tables of ``_tables.py``
therefore comes with a step here that brings a mirror of the version before up to it,
and ``MIRROR_SCHEMA_VERSION`` counts them; ``chronodelta_sync_schema`` stores the
version a mirror is at. A new collection's table is no such change: an
older mirror simply lacks it, and ``prepare_schema`` creates the missing tables.

``Mirror`` opens every database the same way: a read transaction asks whether the
schema is complete and current (``is_current``), the usual case, which takes no
lock; only otherwise does it open a write transaction and run ``prepare_schema``
there, which refuses what is not a mirror, runs the steps the mirror lacks, creates
the missing tables and stores the version, all or nothing.

Versions:

1. The first mirrors.
2. ``chronodelta_sync_state.client_id``: the API client whose delta the stored link
   belongs to (a delta is its client's own; another client must start a new one).
   Rows of older mirrors get ``''``, which no client id matches, so their next sync
   starts a new delta.

Mirrors made before the version was stored are version 1 or 2, told apart by the
``client_id`` column.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ._exceptions import MirrorRefused
from ._tables import metadata, schema_table, state_table

MIRROR_SCHEMA_VERSION = 2

# Key of the PostgreSQL advisory lock that queues the processes preparing one mirror.
_SCHEMA_LOCK = 0x63686E5F73796E63  # "chn_sync"


def _add_client_id(connection: Connection) -> None:
    connection.exec_driver_sql(
        f"ALTER TABLE {state_table.name} ADD COLUMN client_id TEXT NOT NULL DEFAULT ''"
    )


# UPGRADES[n] brings a mirror of version n - 1 to version n. Written as the DDL of the
# change itself, never from ``metadata``, which describes the newest tables only.
UPGRADES: dict[int, Callable[[Connection], None]] = {2: _add_client_id}


def _columns(connection: Connection) -> dict[str, set[str]]:
    """The columns of each mirror table the database has (by table name)."""
    inspector = sa.inspect(connection)  # a new one: it caches what it has read
    present = set(inspector.get_table_names())
    return {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in metadata.tables
        if name in present
    }


def stored_version(connection: Connection) -> int | None:
    """The mirror's schema version; None for a database that holds no mirror yet."""
    return _version(connection, _columns(connection))


def _version(connection: Connection, found: dict[str, set[str]]) -> int | None:
    if schema_table.name in found:
        version = connection.scalar(sa.select(sa.func.max(schema_table.c.version)))
        if version is not None:
            return int(version)
    if state_table.name not in found:
        return None
    # Made before the version was stored: only version 2 has the state's client_id.
    return 2 if "client_id" in found[state_table.name] else 1


def _foreign_tables(found: dict[str, set[str]]) -> list[str]:
    """Tables with a mirror table's name but not its columns (chronodelta's own server
    database, say, which has a ``clockings`` table too)."""
    return sorted(
        name
        for name, columns in found.items()
        if not set(metadata.tables[name].c.keys()) <= columns
    )


def is_current(connection: Connection) -> bool:
    """Whether the mirror needs nothing done: every table there, at this version."""
    found = _columns(connection)
    return (
        len(found) == len(metadata.tables)
        and _version(connection, found) == MIRROR_SCHEMA_VERSION
        and not _foreign_tables(found)
    )


def upgrade_mirror(connection: Connection, version: int) -> None:
    """Bring a mirror of schema ``version`` to ``MIRROR_SCHEMA_VERSION``, step by step."""
    for step in range(version + 1, MIRROR_SCHEMA_VERSION + 1):
        UPGRADES[step](connection)


def prepare_schema(connection: Connection, where: str) -> None:
    """Make the database at ``where`` (the target, for messages) a current mirror.

    Run in a write transaction, so that a refusal or a failure leaves it as it was.
    """
    if connection.dialect.name == "postgresql":
        # Two syncs preparing a new PostgreSQL mirror at once would both CREATE TABLE,
        # and the second would fail on the catalog. SQLite's BEGIN IMMEDIATE already
        # queues them. Waits as long as any lock (lock_timeout, the busy timeout).
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
    version = stored_version(connection)
    if version is not None and version > MIRROR_SCHEMA_VERSION:
        raise MirrorRefused(
            f"{where} is a mirror of schema version {version}, made by a newer chronodelta "
            f"(this one knows up to {MIRROR_SCHEMA_VERSION}): upgrade chronodelta"
        )
    if version is not None:
        upgrade_mirror(connection, version)
    foreign = _foreign_tables(_columns(connection))  # as upgraded
    if foreign:
        raise MirrorRefused(
            f"{where} has a table {foreign[0]} that is not a mirror table: choose another --target"
        )
    metadata.create_all(connection, checkfirst=True)
    connection.execute(schema_table.delete())
    connection.execute(schema_table.insert().values(version=MIRROR_SCHEMA_VERSION))
