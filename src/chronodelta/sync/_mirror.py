"""The mirror database: SQLAlchemy Core on SQLite or PostgreSQL.

Every write is one transaction that applies one API response *and* stores the
``SyncState`` that follows it (a large delta response is read and written in batches,
all in that one transaction: ``apply_change_batches``). The state row is updated only
if its ``revision`` is still the one the caller read (``StateConflict`` otherwise,
when a second sync of the same mirror got there first), and on SQLite the transaction
takes the write lock up front (``BEGIN IMMEDIATE``). A kill at any instant leaves
either the response and its link, or neither: the next run resumes from the stored
link, and a response read again is applied again with the same result (the
changeVersion rule).

Snapshot pages and re-initialization (the mark-and-sweep)
---------------------------------------------------------
After a 410 (or when the filter changed) the mirror may hold records the source no
longer has: they vanished while no delta was watching, and no Delete will ever come.
So a new delta is started with a new ``generation`` G, and every row a snapshot page
delivers is stamped G (even when its version is unchanged). The transaction of the
*last* page (the one that carries the deltaLink) deletes every row stamped below G.

Why that is exact: the server fixes a version S when the delta starts, and the
snapshot pages show every record in the filter whose version is <= S, in its state
at S; a record changed after S is left out of the pages and delivered by the first
deltaLink call instead (docs/delta.md, "Snapshot consistency"). When the last page is
stored, the rows stamped G are therefore exactly the records that were in the filter
at S and unchanged since. A row stamped below G is one of two kinds:

* a record that vanished or left the filter before S: it must go, and nothing else
  would remove it;
* a record that existed at S but changed after S (so it was left out of the pages):
  removing it is safe, because the first delta call reports every change after S.
  If the record is still in the filter it comes back as InsertOrUpdate with its
  newest version; if it left the filter, it is reported as Delete or not at all,
  and either way it must not be in the mirror.

So after the first delta call the mirror equals the source, not a superset. Sweeping
only at the end keeps the old rows readable during the walk, and sweeping in the same
transaction as the last page means a crash cannot separate them: a restart resumes the
walk (generation still G) and the sweep happens when the walk completes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from chronodelta.client import InvalidResponse

from ._apply import ChangeCounts, plan_changes
from ._state import SyncState, after_changes
from ._tables import (
    COLLECTIONS,
    GENERATION,
    MirroredCollection,
    Wire,
    json_text,
    metadata,
    state_table,
)
from ._tables import tombstones_table as tombstones

DEFAULT_TARGET = "sqlite:///var/mirror.db"
_IN_CHUNK = 500
# 100 rows of at most 18 columns: far below SQLite's 32,766 and PostgreSQL's 65,535
# parameters per statement.
ROWS_PER_STATEMENT = 100


class MirrorError(RuntimeError):
    """The mirror database cannot be used (bad URL, unreachable, another source)."""


class MirrorUnavailable(MirrorError):
    """The mirror database could not be reached or was busy (``--follow`` tries again
    at the next poll)."""


class StateConflict(MirrorError):
    """The stored state changed under this sync: another sync runs on the same mirror."""


def mirror_url(target: str) -> sa.URL:
    """``sqlite:///PATH`` or ``postgresql://...`` as a SQLAlchemy URL (psycopg 3)."""
    scheme, sep, rest = target.partition(":")
    if not sep:
        raise MirrorError(f"the target must be sqlite:///PATH or postgresql://...: {target!r}")
    scheme = scheme.lower()
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return sa.make_url("postgresql+psycopg:" + rest)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return sa.make_url(target)
    raise MirrorError(f"unsupported target scheme {scheme!r}: use sqlite:///PATH or postgresql://")


def describe_target(target: str) -> str:
    """The target for messages, with any password hidden."""
    try:
        return mirror_url(target).render_as_string(hide_password=True)
    except (MirrorError, sa.exc.ArgumentError):
        return "<invalid target>"


def create_mirror_engine(target: str) -> Engine:
    url = mirror_url(target)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            json_serializer=json_text,
            json_deserializer=orjson.loads,
            connect_args={"timeout": 60},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
        pool_size=2,
        pool_pre_ping=True,
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
    cursor = dbapi_connection.cursor()
    # WAL with synchronous=NORMAL: a commit survives the process being killed (only an
    # OS crash can lose the last commits; a restart then re-reads from an older link).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    # A snapshot page writes about 2 MB. Checkpointing the WAL every 40 MB instead of
    # SQLite's default 4 MB syncs the disk ten times less often during an initial sync.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")  # one writer; take the lock up front


def _newest_per_id(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per id (the newest changeVersion, the later on a tie).

    A statement may not update the same row twice on PostgreSQL; a response should
    never hold an id twice, but a mirror must not fail on one that does.
    """
    if len({row[0] for row in rows}) == len(rows):
        return rows
    newest: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        held = newest.get(row[0])
        if held is None or row[1] >= held[1]:
            newest[row[0]] = row
    return list(newest.values())


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)  # SQLite keeps no offset; we store UTC


class ChangeBatches(Protocol):
    """A delta response read in batches, as the SDK's ``stream_delta`` gives it:
    sequences of changes in response order, then ``delta_link`` (None until every
    batch was given)."""

    def __iter__(self) -> Iterator[Sequence[Any]]: ...

    @property
    def delta_link(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _Whole:
    """A delta response held whole, as one batch."""

    changes: Sequence[Any]
    delta_link: str

    def __iter__(self) -> Iterator[Sequence[Any]]:
        yield self.changes


@dataclass(frozen=True, slots=True)
class CollectionStatus:
    """One line of ``chronodelta sync status``."""

    collection: str
    records: int
    phase: str
    generation: int
    filter: str
    last_success: dt.datetime | None
    link_age_seconds: float | None
    expires_in_seconds: float | None


class Mirror:
    """The mirror database of one or more collections (created on first use)."""

    def __init__(self, target: str = DEFAULT_TARGET) -> None:
        self.target = target
        try:
            self.engine = create_mirror_engine(target)
            metadata.create_all(self.engine, checkfirst=True)
            self._check_tables()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise MirrorError(
                f"cannot open the mirror {describe_target(target)}: {type(exc).__name__}: "
                f"{getattr(exc, 'orig', None) or exc}"
            ) from None
        self._dialect = self.engine.dialect.name
        self._upserts: dict[tuple[str, int], str] = {}

    def close(self) -> None:
        self.engine.dispose()

    def _check_tables(self) -> None:
        """Refuse a database whose tables of the same names are something else (such as
        chronodelta's own server database, which has a ``clockings`` table too)."""
        inspector = sa.inspect(self.engine)
        for table in metadata.tables.values():
            found = {column["name"] for column in inspector.get_columns(table.name)}
            if table is state_table and "client_id" not in found and "revision" in found:
                # Mirrors made before the state knew its API client.
                with self.engine.begin() as connection:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN client_id TEXT NOT NULL DEFAULT ''"
                    )
                found.add("client_id")
            if not set(table.c.keys()) <= found:
                self.engine.dispose()
                raise MirrorError(
                    f"{describe_target(self.target)} has a table {table.name} that is not a "
                    "mirror table: choose another --target"
                )

    @contextmanager
    def _database(self, what: str) -> Iterator[None]:
        """SQLAlchemy's errors as ``MirrorError``s that say what was being done."""
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise MirrorUnavailable(
                f"the mirror {describe_target(self.target)} failed while {what}: {exc.orig}"
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise MirrorError(
                f"the mirror {describe_target(self.target)} failed while {what}: "
                f"{getattr(exc, 'orig', None) or exc}"
            ) from exc

    @contextmanager
    def _begin(self, what: str) -> Iterator[Connection]:
        with self._database(what), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _connect(self, what: str) -> Iterator[Connection]:
        with self._database(what), self.engine.connect() as connection:
            yield connection

    # ---- state --------------------------------------------------------------------

    def state(self, collection: str) -> SyncState | None:
        with self._connect(f"reading the sync state of {collection}") as connection:
            row = (
                connection.execute(
                    sa.select(state_table).where(state_table.c.collection == collection)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        values = dict(row)
        values["last_success"] = _utc(values["last_success"])
        values["link_stored_at"] = _utc(values["link_stored_at"])
        return SyncState(**values)

    def _save_state(self, connection: Connection, old: SyncState | None, new: SyncState) -> None:
        values = {
            name: getattr(new, name)
            for name in state_table.c.keys()  # noqa: SIM118
        }
        if old is None:
            try:
                with connection.begin_nested():
                    connection.execute(state_table.insert().values(**values))
            except sa.exc.IntegrityError:
                raise StateConflict(
                    f"another sync created the state of {new.collection} first: "
                    "is another sync running on the same mirror?"
                ) from None
            return
        done = connection.execute(
            state_table.update()
            .where(state_table.c.collection == old.collection)
            .where(state_table.c.revision == old.revision)
            .values(**values)
        )
        if done.rowcount != 1:
            raise StateConflict(
                f"the sync state of {old.collection} changed under this process: "
                "is another sync running on the same mirror?"
            )

    def save(self, old: SyncState | None, new: SyncState) -> None:
        """Store a state alone (a new generation before its delta starts)."""
        with self._begin(f"storing the sync state of {new.collection}") as connection:
            self._save_state(connection, old, new)

    # ---- writing responses ----------------------------------------------------------

    def _upsert(self, collection: MirroredCollection, rows: int) -> str:
        """INSERT of ``rows`` rows ... ON CONFLICT (id) DO UPDATE with the data of a
        version at least as new as the row's.

        At least as new, not newer: a new snapshot (after a 410, or new external
        references) delivers unchanged records with the same version, and their
        ``raw`` may differ (a person's badge number changed, references were added).
        Delta responses repeat changes with equal versions on purpose, but
        ``plan_changes`` has dropped those before they get here. The generation is
        always set: a row a snapshot page delivers is current even when its version is
        unchanged (or, defensively, older than the mirror's).
        """
        key = (collection.name, rows)
        cached = self._upserts.get(key)
        if cached is not None:
            return cached
        names = collection.columns
        quoted = [f'"{name}"' for name in names]
        marker = "?" if self._dialect == "sqlite" else "%s"
        one_row = f"({', '.join(marker for _ in names)})"
        updates = [
            f"{q} = CASE WHEN excluded.change_version >= t.change_version "
            f"THEN excluded.{q} ELSE t.{q} END"
            for name, q in zip(names, quoted, strict=True)
            if name not in ("id", GENERATION)
        ]
        updates.append(f'"{GENERATION}" = excluded."{GENERATION}"')
        sql = (
            f'INSERT INTO "{collection.table.name}" AS t ({", ".join(quoted)}) '
            f"VALUES {', '.join([one_row] * rows)} "
            f"ON CONFLICT (id) DO UPDATE SET {', '.join(updates)}"
        )
        self._upserts[key] = sql
        return sql

    def _write_rows(
        self,
        connection: Connection,
        collection: MirroredCollection,
        records: Sequence[Wire],
        generation: int,
    ) -> None:
        """Upsert ``records``, ROWS_PER_STATEMENT rows per statement.

        Written as SQL text and run with the driver's ``executemany`` on the tuples
        the row builders make: SQLAlchemy's per-row parameter processing cost three
        times the insert itself (a million rows per initial sync). Many rows per
        statement: SQLite's driver releases the GIL around every statement it steps,
        and one release per row let the thread that fetches the next page stall the
        writes (the initial sync ran about 20% faster with batches; BENCHMARKS.md).
        """
        if not records:
            return
        row = collection.row
        try:
            rows = [(*row(record), generation) for record in records]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponse(
                f"a {collection.name} record does not have the contract's shape: {exc!r}"
            ) from exc
        rows = _newest_per_id(rows)
        whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
        if whole:
            batches = [
                tuple(chain.from_iterable(rows[start : start + ROWS_PER_STATEMENT]))
                for start in range(0, whole, ROWS_PER_STATEMENT)
            ]
            connection.exec_driver_sql(self._upsert(collection, ROWS_PER_STATEMENT), batches)
        if whole < len(rows):
            rest = rows[whole:]
            connection.exec_driver_sql(
                self._upsert(collection, len(rest)), tuple(chain.from_iterable(rest))
            )

    def apply_page(
        self,
        collection: MirroredCollection,
        old: SyncState,
        records: Sequence[Wire],
        new: SyncState,
    ) -> int:
        """One snapshot page and the state after it, in one transaction.

        On the last page (``new.phase == "delta"``) the same transaction sweeps the
        rows of older generations (see the module docstring). Returns rows swept.
        """
        swept = 0
        with self._begin(f"storing a page of {collection.name}") as connection:
            self._write_rows(connection, collection, records, new.generation)
            if new.phase == "delta":
                swept = self._sweep(connection, collection, new.generation)
            self._save_state(connection, old, new)
        return swept

    def _sweep(
        self, connection: Connection, collection: MirroredCollection, generation: int
    ) -> int:
        table = collection.table
        result = connection.execute(table.delete().where(table.c[GENERATION] < generation))
        connection.execute(
            tombstones.delete()
            .where(tombstones.c.collection == collection.name)
            .where(tombstones.c[GENERATION] < generation)
        )
        return int(result.rowcount or 0)

    def apply_changes(
        self,
        collection: MirroredCollection,
        old: SyncState,
        changes: Sequence[Any],
        delta_link: str,
        now: dt.datetime,
    ) -> tuple[SyncState, ChangeCounts]:
        """One delta response held whole, and the state after it, in one transaction."""
        return self.apply_change_batches(collection, old, _Whole(changes, delta_link), now)

    def apply_change_batches(
        self,
        collection: MirroredCollection,
        old: SyncState,
        batches: ChangeBatches,
        now: dt.datetime,
    ) -> tuple[SyncState, ChangeCounts]:
        """One delta response, batch by batch as it is read, and the state after it,
        in one transaction; the counts returned add up all the batches.

        The new deltaLink and state are stored last: a response that breaks off, or a
        process killed at any point, leaves none of it applied, and the next attempt
        reads it again from the stored link. Each batch is planned against the
        versions the earlier ones wrote, so the changeVersion rule holds across them.
        """
        counts = ChangeCounts()
        with self._begin(f"applying the changes of {collection.name}") as connection:
            for batch in batches:
                counts += self._apply_batch(connection, collection, batch, old.generation)
            delta_link = batches.delta_link
            if delta_link is None:
                raise InvalidResponse("the delta response ended without its deltaLink")
            new = after_changes(old, applied=counts.applied, delta_link=delta_link, now=now)
            self._save_state(connection, old, new)
        return new, counts

    def _apply_batch(
        self,
        connection: Connection,
        collection: MirroredCollection,
        changes: Sequence[Any],
        generation: int,
    ) -> ChangeCounts:
        ids = [change.id for change in changes]
        table = collection.table
        rows = self._versions(connection, table.c.id, table.c.change_version, ids)
        gone = self._versions(
            connection,
            tombstones.c.id,
            tombstones.c.change_version,
            ids,
            tombstones.c.collection == collection.name,
        )
        plan = plan_changes(changes, rows, gone)
        self._write_rows(connection, collection, plan.upserts, generation)
        if plan.deletes:
            connection.execute(
                table.delete().where(table.c.id == sa.bindparam("record_id")),
                [{"record_id": record_id} for record_id, _ in plan.deletes],
            )
            self._write_tombstones(connection, collection, plan.deletes, generation)
        return ChangeCounts.of(plan)

    def _write_tombstones(
        self,
        connection: Connection,
        collection: MirroredCollection,
        deletes: Iterable[tuple[int, str]],
        generation: int,
    ) -> None:
        insert = (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(tombstones)
        statement = insert.on_conflict_do_update(
            index_elements=["collection", "id"],
            set_={
                "change_version": insert.excluded.change_version,
                GENERATION: insert.excluded[GENERATION],
            },
        )
        connection.execute(
            statement,
            [
                {
                    "collection": collection.name,
                    "id": record_id,
                    "change_version": version,
                    GENERATION: generation,
                }
                for record_id, version in deletes
            ],
        )

    @staticmethod
    def _versions(
        connection: Connection,
        id_column: sa.ColumnElement[Any],
        version_column: sa.ColumnElement[Any],
        ids: Sequence[int],
        *where: sa.ColumnElement[bool],
    ) -> dict[int, str]:
        found: dict[int, str] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            query = sa.select(id_column, version_column).where(id_column.in_(chunk), *where)
            found.update((int(i), str(v)) for i, v in connection.execute(query))
        return found

    # ---- reading ----------------------------------------------------------------------

    def rows(self, collection: str) -> dict[int, dict[str, Any]]:
        """Every mirrored row of ``collection`` by id (tests, small mirrors)."""
        table = COLLECTIONS[collection].table
        with self._connect(f"reading {collection}") as connection:
            return {row["id"]: dict(row) for row in connection.execute(sa.select(table)).mappings()}

    def count(self, collection: str) -> int:
        table = COLLECTIONS[collection].table
        with self._connect(f"counting {collection}") as connection:
            query = sa.select(sa.func.count()).select_from(table)
            return int(connection.execute(query).scalar_one())

    def status(self, now: dt.datetime | None = None) -> list[CollectionStatus]:
        """Each synced collection: records, last success, link age and time left."""
        now = now or dt.datetime.now(dt.UTC)
        with self._connect("reading the sync states") as connection:
            names = (
                connection.execute(
                    sa.select(state_table.c.collection).order_by(state_table.c.collection)
                )
                .scalars()
                .all()
            )
        found = []
        for name in names:
            state = self.state(name)
            if state is None or name not in COLLECTIONS:
                continue
            expires = state.expires_at()
            found.append(
                CollectionStatus(
                    collection=name,
                    records=self.count(name),
                    phase=state.phase,
                    generation=state.generation,
                    filter=state.filter,
                    last_success=state.last_success,
                    link_age_seconds=(
                        None
                        if state.link_stored_at is None
                        else (now - state.link_stored_at).total_seconds()
                    ),
                    expires_in_seconds=(
                        None if expires is None else (expires - now).total_seconds()
                    ),
                )
            )
        return found
