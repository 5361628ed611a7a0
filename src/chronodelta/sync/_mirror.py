"""The mirror database: SQLAlchemy Core on SQLite or PostgreSQL.

Every write is one transaction that applies one API response *and* stores the
``SyncState`` that follows it (a large delta response is read and written in batches,
all in that one transaction: ``apply_change_batches``). The state row is updated only
if its ``revision`` is still the one the caller read (``StateConflict`` otherwise,
when a second sync of the same mirror got there first). A kill at any instant leaves
either the response and its link, or neither: the next run resumes from the stored
link, and a response read again is applied again with the same result (the
changeVersion rule).

The engine and every transaction come from ``chronodelta.storage``, whose locking
rules the mirror follows like the server: writes are ``plain_write_transaction``s
(SQLite's write lock up front, ``BEGIN IMMEDIATE``), reads ``read_transaction``s
(which, under WAL, never wait for the writer). A wait for a lock longer than the
mirror's busy timeout raises ``storage.DatabaseBusy``, which the mirror reports as
``MirrorUnavailable``: retriable, and nothing of the response was kept. Opening a
mirror checks its schema and upgrades an older one (``_schema.py``).

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
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from chronodelta import storage
from chronodelta.client import InvalidResponse

from ._apply import ChangeCounts, plan_changes
from ._exceptions import MirrorRefused, MirrorUnavailable, StateConflict
from ._schema import is_current, prepare_schema
from ._state import SyncState, after_changes
from ._tables import COLLECTIONS, GENERATION, MirroredCollection, Wire, state_table
from ._tables import tombstones_table as tombstones

DEFAULT_TARGET = "sqlite:///var/mirror.db"
# How long a mirror transaction waits for a lock before MirrorUnavailable. Longer than
# the server's default: a mirror has one writer, and a delta of a million changes holds
# the write lock for its whole (single) transaction.
DEFAULT_BUSY_TIMEOUT_SECONDS = 60.0
# A snapshot page writes about 2 MB. Checkpointing the WAL every 40 MB instead of
# SQLite's default 4 MB syncs the disk ten times less often during an initial sync.
WAL_AUTOCHECKPOINT_PAGES = 10_000
_SQLITE_ERROR = 1  # SQLite's generic error code: a statement it cannot run
_IN_CHUNK = 500
# 100 rows of at most 18 columns: far below SQLite's 32,766 and PostgreSQL's 65,535
# parameters per statement.
ROWS_PER_STATEMENT = 100


def describe_target(target: str) -> str:
    """The target for messages, with any password hidden."""
    try:
        return sa.make_url(target).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid target>"


def create_mirror_engine(target: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> Engine:
    """storage's engine for ``sqlite:///PATH`` or ``postgresql://...`` (psycopg 3).

    storage sets up either back end (WAL with synchronous=NORMAL, so that a commit
    survives the process being killed; the busy timeout; BEGIN IMMEDIATE for writes).
    """
    scheme, sep, _ = target.partition(":")
    if not sep:
        # Not left to storage: it would take an empty URL for the server's database.
        raise MirrorRefused(f"the target must be sqlite:///PATH or postgresql://...: {target!r}")
    try:
        return storage.create_engine(
            target,
            pool_size=2,
            busy_timeout=busy_timeout,
            wal_autocheckpoint=WAL_AUTOCHECKPOINT_PAGES,
        )
    except storage.DatabaseUrlError:
        raise MirrorRefused(
            f"unsupported target scheme {scheme.lower()!r}: use sqlite:///PATH or postgresql://"
        ) from None


@contextmanager
def _database_errors(doing: str, busy_timeout: float) -> Iterator[None]:
    """The database's failures as the sync's errors, after ``doing`` (what failed).

    A lock wait past the busy timeout, an unreachable server or a lost connection is
    ``MirrorUnavailable`` (retriable: the transaction rolled back); a statement the
    database refused, or a file that cannot be made, is ``MirrorRefused``.
    """
    try:
        yield
    except storage.DatabaseBusy as exc:
        raise MirrorUnavailable(
            f"{doing}: it stayed locked for more than {busy_timeout:g} s ({exc}); "
            "another process is writing to it"
        ) from exc
    except storage.DatabaseConnectionLost as exc:
        raise MirrorUnavailable(f"{doing}: {exc}") from exc
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorcode", None) != _SQLITE_ERROR:
            raise MirrorUnavailable(f"{doing}: {exc.orig}") from exc
        # SQLite reports a statement it cannot run (no such table or column) as an
        # OperationalError too; no poll will fix that, so it is no outage.
        raise MirrorRefused(f"{doing}: {exc.orig}") from exc
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise MirrorRefused(
            f"{doing}: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from exc


def _read_state(connection: Connection, collection: str) -> SyncState | None:
    query = sa.select(state_table).where(state_table.c.collection == collection)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    values = dict(row)
    values["last_success"] = _utc(values["last_success"])
    values["link_stored_at"] = _utc(values["link_stored_at"])
    return SyncState(**values)


def _count(connection: Connection, collection: str) -> int:
    query = sa.select(sa.func.count()).select_from(COLLECTIONS[collection].table)
    return int(connection.execute(query).scalar_one())


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
    """The mirror database of one or more collections (created on first use).

    ``busy_timeout`` (seconds) bounds every wait for a lock held by another process;
    past it the step fails with ``MirrorUnavailable`` and nothing of it is kept.
    """

    def __init__(
        self, target: str = DEFAULT_TARGET, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.target = target
        self.busy_timeout = busy_timeout
        self._where = describe_target(target)
        opening = f"cannot open the mirror {self._where}"
        with _database_errors(opening, busy_timeout):  # a directory that cannot be made
            self.engine = create_mirror_engine(target, busy_timeout)
        try:
            with _database_errors(opening, busy_timeout):
                self._open()
        except BaseException:
            self.engine.dispose()
            raise
        self._dialect = self.engine.dialect.name
        self._upserts: dict[tuple[str, int], str] = {}

    def close(self) -> None:
        self.engine.dispose()

    def _open(self) -> None:
        """Check the schema (no lock taken when it is current); prepare it otherwise."""
        with storage.read_transaction(self.engine) as connection:
            if is_current(connection):
                return
        with storage.plain_write_transaction(self.engine) as connection:
            prepare_schema(connection, self._where)

    @contextmanager
    def _database(self, what: str) -> Iterator[None]:
        with _database_errors(f"the mirror {self._where} failed while {what}", self.busy_timeout):
            yield

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with self._database(what), storage.plain_write_transaction(self.engine) as connection:
            yield connection

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        # A snapshot: status reads the states and counts as of one instant.
        with (
            self._database(what),
            storage.read_transaction(self.engine, snapshot=True) as connection,
        ):
            yield connection

    # ---- state --------------------------------------------------------------------

    def state(self, collection: str) -> SyncState | None:
        with self._read(f"reading the sync state of {collection}") as connection:
            return _read_state(connection, collection)

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
        with self._write(f"storing the sync state of {new.collection}") as connection:
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
        with self._write(f"storing a page of {collection.name}") as connection:
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
        with self._write(f"applying the changes of {collection.name}") as connection:
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
        with self._read(f"reading {collection}") as connection:
            return {row["id"]: dict(row) for row in connection.execute(sa.select(table)).mappings()}

    def count(self, collection: str) -> int:
        with self._read(f"counting {collection}") as connection:
            return _count(connection, collection)

    def status(self, now: dt.datetime | None = None) -> list[CollectionStatus]:
        """Each synced collection: records, last success, link age and time left."""
        now = now or dt.datetime.now(dt.UTC)
        with self._read("reading the sync states") as connection:
            names = (
                connection.execute(
                    sa.select(state_table.c.collection).order_by(state_table.c.collection)
                )
                .scalars()
                .all()
            )
            states = [
                (state, _count(connection, name))
                for name in names
                if name in COLLECTIONS and (state := _read_state(connection, name)) is not None
            ]
        found = []
        for state, records in states:
            expires = state.expires_at()
            found.append(
                CollectionStatus(
                    collection=state.collection,
                    records=records,
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
