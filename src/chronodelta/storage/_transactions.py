"""Transactions, and the per-tenant counter row that orders every write.

Contract, "Delta": a ``changeVersion`` is strictly increasing per tenant, and a delta
reader must never be handed a version past one that a still-running transaction can
yet commit with. A plain sequence breaks that on PostgreSQL: writer A takes 7, writer
B takes 8 and commits, a reader sees 8 and moves its cursor past 7, then A commits 7
and the reader never sees it.

chronodelta therefore serializes the *commits* of one tenant's versioned writes on
its ``change_version`` counter row: a transaction gets its versions while it holds
that row's lock (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` takes
SQLite's single write lock) and holds it until it commits, so versions become visible
in the order they were handed out: whatever a reader can see is always a prefix of
the version sequence. Tenants do not block each other on PostgreSQL.

Issue 14, item 1: the lock is taken as *late* as it can be. ``late_write_transaction``
(the clocking writes) does its work first, validation, reference resolution, row
writes and recalculation, with *provisional* versions and ids (negative, unique among
running transactions), overlapping the tenant's other writers; ``lock_versions`` then
takes the counter lock and rewrites them to the final ones just before commit. Rows
with provisional values are invisible to every other transaction (MVCC), and the
webhooks' outbox is written after the rewrite, so it sees only final versions. A
clocking write ends with ``seal``: on PostgreSQL the lock and a single statement for
everything else (``_seal.py``: every stamp, the rows deferred with ``insert_versioned``
and ``update_versioned``, the counters, the commit mark, the observers' probes and the
answer's row), sent together, so it holds the lock for one round trip and the commit.
``write_transaction`` still locks first: the rare writes of reference data.
Two writers of one person must not both miss the other's clocking when they
recalculate, so a recalculation first takes the person's lock (``lock_people``, an
advisory lock). Lock order, everywhere: a write's clocking row, its people (sorted,
in one statement), then the version lock, then the id counters; no deadlock.

Every transaction anyone opens comes from this module, in one of four kinds:

* ``read_transaction``: reads only (deferred on SQLite, where WAL readers never wait
  for the writer; READ COMMITTED on PostgreSQL, or one REPEATABLE READ snapshot).
* ``write_transaction``: a tenant's write, under its counter lock from the start.
* ``late_write_transaction``: a tenant's write that takes the counter lock last.
* ``plain_write_transaction``: a write outside any tenant's version order (API
  clients, keys, delta bookkeeping, retention, a mirror's rows). On SQLite it, too,
  starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes
  fails at the lock upgrade whenever another writer holds the lock, and no busy
  timeout can wait that out (issue 9: ``DeltaTracker._touch`` did exactly that).

A wait for a lock or a pooled connection is bounded by the engine's busy timeout
(``create_engine``); past it, any of them raises ``DatabaseBusy``. A refused or broken
connection raises ``DatabaseConnectionLost``. Both are ``DatabaseUnavailable``, a
retriable error the server answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import tables
from ._engine import (
    SQLITE_IMMEDIATE_OPTIONS,
    SQLITE_SINGLE_STATEMENT_OPTIONS,
    is_postgresql,
    writer_queue,
)
from ._seal import Provisionals, ReadBack, run_seal
from .tables import change_marks, tenant_counters

CHANGE_VERSION = "change_version"
# SQLite's SQLITE_BUSY and SQLITE_LOCKED. PostgreSQL's lock_not_available (lock_timeout),
# too_many_connections and cannot_connect_now (starting up or shutting down).
_SQLITE_BUSY_CODES = {5, 6}
_POSTGRES_BUSY_STATES = {"55P03", "53300", "57P03"}


class DatabaseUnavailable(Exception):
    """The database could not do the work now; retriable. ``retry_after``: seconds."""

    retry_after = 1
    reason = "The database is unavailable"


class DatabaseBusy(DatabaseUnavailable):
    """A wait for a lock or a pooled connection ran past the busy timeout.

    Nothing was committed: the transaction never got what it waited for.
    """

    reason = "The database was busy for longer than its timeout; nothing was changed"


class DatabaseConnectionLost(DatabaseUnavailable):
    """The database refused the connection, or it broke mid-transaction.

    If it broke during COMMIT the work may have been committed: the caller cannot
    know, so a retry must be one that is safe to repeat.
    """

    reason = (
        "The connection to the database failed; if it failed while committing, "
        "the change may have been applied"
    )


def unavailable_error(error: BaseException) -> type[DatabaseUnavailable] | None:
    """Which kind of unavailability ``error`` is, or None for a real error."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection came free
        return DatabaseBusy
    if not isinstance(error, sa.exc.OperationalError):
        return None
    original = error.orig
    state = getattr(original, "sqlstate", None)
    if (
        getattr(original, "sqlite_errorcode", None) in _SQLITE_BUSY_CODES
        or state in _POSTGRES_BUSY_STATES
        or "database is locked" in str(original)
    ):
        return DatabaseBusy
    # psycopg reports a refused or failed connection attempt with no SQLSTATE at all.
    no_state = type(original).__module__.startswith("psycopg") and state is None
    if error.connection_invalidated or (state or "").startswith("08") or no_state:
        return DatabaseConnectionLost
    return None


def is_busy_error(error: BaseException) -> bool:
    """Whether ``error`` means the database is unavailable (not a broken request)."""
    return unavailable_error(error) is not None


@contextmanager
def _unavailability_as_errors() -> Iterator[None]:
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.TimeoutError) as error:
        kind = unavailable_error(error)
        if kind is None:
            raise
        raise kind(str(getattr(error, "orig", None) or error)) from error


# Called inside every write transaction that versioned something, just before it
# commits, with the versions it used (first, last): the place where a feature that
# follows every committed change (the webhooks' outbox, issue 12) writes its rows in
# the same transaction, whatever collection the change was to.
VersionedWriteObserver = Callable[["WriteTransaction", int, int], None]
_observers: list[VersionedWriteObserver] = []
# An observer's probe: a query on the tenant (bind parameter ``tenant``) that returns
# a row when the observer may have work. A late write on PostgreSQL evaluates it in
# its last statement under the version lock (``_seal.py``) and skips the observer when
# it returns none: no round trip for a tenant with nothing to observe.
_probes: dict[VersionedWriteObserver, sa.Select[Any]] = {}


def observe_versioned_writes(
    observer: VersionedWriteObserver, probe: sa.Select[Any] | None = None
) -> None:
    """Call ``observer`` in every versioned write transaction of this process
    (``probe``: skip it, where the write can tell cheaply, when the probe finds nothing;
    the observer must then find nothing to do either)."""
    if observer not in _observers:
        _observers.append(observer)
    if probe is not None:
        _probes[observer] = probe


@dataclass
class WriteTransaction:
    """One tenant's write transaction; hands out change versions and ids.

    Once it holds the tenant's version lock (``locked``), versions and ids are final.
    Before that (a late transaction on PostgreSQL, ``late_write_transaction``) they are
    *provisional*: negative numbers, unique among running transactions, that
    ``lock_versions`` rewrites to the final ones in the tables that received them.
    """

    connection: sa.Connection
    tenant_id: int
    _last_version: int
    _first_version: int = 0
    _id_counters: dict[str, int] = field(default_factory=dict)
    _dirty_ids: set[str] = field(default_factory=set)
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    locked: bool = True
    _provisional: _Provisional | None = None
    _people: set[int] = field(default_factory=set)
    _all_people: bool = False
    _finals: dict[str, int] = field(default_factory=dict)
    # After ``seal``: the observers its probes said to call, and the last version it
    # wrote to the counter (nothing may be versioned after it).
    _sealed: tuple[list[VersionedWriteObserver], int] | None = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (never if it fails)."""
        self._after_commit.append(callback)

    def next_change_version(self, table: sa.Table | None = None) -> int:
        """A new version, greater than every version this tenant has committed.

        Provisional (negative) until ``lock_versions``: ``table`` is the table it goes
        to, where the lock rewrites it; None for rows given to ``insert_versioned``.
        """
        if self._provisional is not None:
            return self._provisional.version(table)
        self._last_version += 1
        return self._last_version

    @property
    def last_change_version(self) -> int:
        """The highest version handed out so far (before any: the tenant's committed one).

        Final versions only: a late write has none before ``lock_versions``.
        """
        if self._provisional is not None:
            raise RuntimeError("last_change_version needs the version lock")
        return self._last_version

    def allocate_ids(self, collection: str, count: int = 1) -> range:
        """``count`` new ids for ``collection`` in this tenant (provisional until locked)."""
        if self._provisional is not None:
            return self._provisional.ids(collection, count)
        last = self._id_counters.get(collection)
        if last is None:
            last = _read_counter(self.connection, self.tenant_id, collection, lock=False)
        self._id_counters[collection] = last + count
        self._dirty_ids.add(collection)
        return range(last + 1, last + count + 1)

    def reserve_ids_through(self, collection: str, highest: int) -> None:
        """Make sure later ``allocate_ids`` calls hand out ids above ``highest``.

        For rows inserted with ids chosen elsewhere (the seeder's reference data).
        """
        if self._provisional is not None:
            raise RuntimeError("reserve_ids_through needs the version lock")
        last = self.allocate_ids(collection, 0).start - 1
        self._id_counters[collection] = max(last, highest)

    def restore_id_counter(self, collection: str, last: int) -> None:
        """Set ``collection``'s id counter to ``last``, down as well as up.

        For a tenant restored to a snapshot (issue 13, item 4): it hands out the ids it
        handed out after the snapshot, so a test run started from it is repeatable.
        Only the ids of rows the restore removed come back into use; never versions.
        """
        if self._provisional is not None:
            raise RuntimeError("restore_id_counter needs the version lock")
        self.allocate_ids(collection, 0)
        self._id_counters[collection] = last

    def insert_versioned(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows that this write does not read back (departures, the totals of a
        recalculation): now if the versions are final, else with their final versions
        and ids when they are (on PostgreSQL in ``seal``'s statement, no round trip).
        Their versions come from ``next_change_version()`` with no table."""
        if self._provisional is None:
            self.connection.execute(table.insert(), rows)
        else:
            self._provisional.deferred.append((table, rows))

    def update_versioned(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Update rows by (tenant_id, id), each with the other columns it names, that
        this write does not read back: as ``insert_versioned``, now or when final."""
        if self._provisional is None:
            self.connection.execute(_update_by_key(table, rows[0]), _keyed(rows))
        else:
            self._provisional.updates.append((table, rows))

    def delete_by_ids(self, table: sa.Table, ids: list[int]) -> None:
        """Delete the tenant's rows ``ids`` of ``table``, rows committed before this
        write that it does not read again (the totals a recalculation removes; their
        departures go to ``insert_versioned``): now if the versions are final, else
        with them (on PostgreSQL in ``seal``'s statement, no round trip)."""
        if self._provisional is None:
            self.connection.execute(_delete_by_ids(table), {"tenant": self.tenant_id, "ids": ids})
        else:
            self._provisional.deletes.append((table, ids))

    def lock_people(
        self,
        person_ids: Iterable[int],
        along: RowWrite | None = None,
        read: sa.Select[Any] | None = None,
    ) -> sa.Row[Any] | None:
        """Serialize this tenant's writers per person (PostgreSQL; SQLite has one writer).

        Taken before a recalculation reads the person's clockings and totals, and held
        to commit: two writers of one person-day (or of one week's running sums) cannot
        both miss the other's clocking. Lock order: the tenant's people key (shared),
        the people sorted, all in one call; the version lock last. ``along``: the
        write's own row write, run in the same round trip (on PostgreSQL a
        data-modifying ``WITH`` clause of the lock's statement; issue 14, item 1).
        ``read``: a one-row query on the tenant (bind parameter ``tenant``) evaluated
        in the same statement, its row returned (the reference facts' signature, so
        that a write checked against cached facts learns in this round trip whether
        they still hold; ``records/_backend.py``).
        """
        wanted = sorted(set(person_ids) - self._people)
        postgresql = is_postgresql(self.connection.engine)
        if self._all_people or not wanted or not postgresql:
            if along is not None:
                along.run(self.connection)
            if read is None:
                return None
            return self.connection.execute(read, {"tenant": self.tenant_id}).one()
        if self._people or self.locked:
            raise RuntimeError("lock a write's people at once, before the version lock")
        keys = [_ALL_PEOPLE, *wanted]
        found = None
        if along is None and read is None:
            self.connection.execute(_LOCK_PEOPLE, {"tenant": self.tenant_id, "keys": keys})
        else:
            sql, params = _people_lock_sql(self.connection, along, read)
            bound = {**params, "lock_tenant": self.tenant_id, "lock_keys": keys}
            found = self.connection.exec_driver_sql(sql, bound).one()
        self._people.update(wanted)
        return None if read is None else found

    def lock_all_people(self) -> None:
        """Every person of the tenant at once (a bulk write: seeding, recalculation).

        The exclusive form of the key every ``lock_people`` takes shared, so that a
        write of thousands of people needs one lock, not thousands.
        """
        if self._all_people or not is_postgresql(self.connection.engine):
            return
        if self._people or self.locked:
            raise RuntimeError("lock a write's people at once, before the version lock")
        self.connection.execute(_LOCK_ALL_PEOPLE, {"tenant": self.tenant_id})
        self._all_people = True

    def lock_versions(self) -> None:
        """Take the tenant's version lock and make every provisional version and id final.

        Held until commit, like every version lock: versions become visible in the
        order they are given out. Afterwards versions and ids are final at once.
        """
        if self.locked:
            return
        taken = self._take_lock()
        if taken is not None:
            provisional, last, last_ids = taken
            provisional.finish(self.connection, self.tenant_id, last, last_ids)

    def _take_lock(self) -> tuple[_Provisional, int, dict[str, int]] | None:
        """Lock and read the counters; the provisional values' finals (None: none)."""
        provisional, self._provisional = self._provisional, None
        names = list(provisional.id_counts) if provisional else []
        last_ids = _lock_counters(self.connection, self.tenant_id, names)
        last = last_ids.pop(CHANGE_VERSION)
        self._first_version = self._last_version = last
        self.locked = True
        if provisional is None:
            return None
        self._last_version = last + provisional.versions
        for collection, count in provisional.id_counts.items():
            self._id_counters[collection] = last_ids[collection] + count
            self._dirty_ids.add(collection)
        self._finals = {"base": provisional.base, CHANGE_VERSION: last, **last_ids}
        return provisional, last, last_ids

    def seal(self, read_back: ReadBack | None = None) -> tuple[Any, ...] | None:
        """Finish a write: take the version lock, make everything final, and read back
        the row it answers with (None: not found); nothing may be versioned after.

        A late write on PostgreSQL does all of it in two statements sent together, the
        lock and one more (``_seal.py``), then commits: one round trip under the lock. Any
        other write takes the lock (if it has not yet) and reads the row; its counters
        and mark are written at commit, as always.
        """
        if self.locked or self._provisional is None:
            self.lock_versions()
            return None if read_back is None else self._read_back(read_back)
        provisional, self._provisional = self._provisional, None
        observers = [o for o in _observers if o in _probes] if provisional.versions else []
        sealed = run_seal(
            self.connection,
            self.tenant_id,
            provisional.provisionals(),
            [_probes[o] for o in observers],
            read_back,
        )
        last, last_ids = sealed.last, sealed.last_ids
        self._first_version, self._last_version = last, last + provisional.versions
        self.locked = True
        for collection, count in provisional.id_counts.items():
            self._id_counters[collection] = last_ids[collection] + count
        self._finals = {"base": provisional.base, CHANGE_VERSION: last, **last_ids}
        unprobed = [o for o in _observers if o not in _probes] if provisional.versions else []
        called = [o for o, found in zip(observers, sealed.probes, strict=True) if found]
        self._sealed = (unprobed + called, self._last_version)
        return sealed.row

    def _read_back(self, read_back: ReadBack) -> tuple[Any, ...] | None:
        final = read_back.record_id
        if read_back.id_counter is not None:
            final = self._final(read_back.id_counter, final)
        return read_back_row(self.connection, self.tenant_id, read_back, final)

    def final_id(self, collection: str, provisional_id: int) -> int:
        """The id that ``provisional_id`` (from ``allocate_ids``) became at the lock."""
        return self._final(collection, provisional_id)

    def final_version(self, provisional_version: int) -> int:
        """The version that ``provisional_version`` became at the lock."""
        return self._final(CHANGE_VERSION, provisional_version)

    def _final(self, counter: str, value: int) -> int:
        if value >= 0:
            return value
        if counter not in self._finals:
            raise RuntimeError("no final value before lock_versions")
        return self._finals[counter] + (-value - self._finals["base"])

    def _flush_counters(self) -> None:
        if self._sealed is not None:
            observers, sealed_version = self._sealed
            if self._dirty_ids or self._last_version != sealed_version:
                raise RuntimeError("versions or ids taken after seal()")
            for observe in observers:
                observe(self, self._first_version + 1, self._last_version)
            return
        counters = {name: self._id_counters[name] for name in self._dirty_ids}
        versioned = self._last_version != self._first_version
        if versioned and not is_postgresql(self.connection.engine):
            self._mark_and_observe(counters)
            return
        if versioned:
            for observe in _observers:
                observe(self, self._first_version + 1, self._last_version)
            counters[CHANGE_VERSION] = self._last_version
            self._flush_in_one_statement(counters)
            return
        if counters:
            self.connection.execute(
                _SET_COUNTER,
                [
                    {"tenant": self.tenant_id, "counter": k, "new_value": v}
                    for k, v in counters.items()
                ],
            )
        if versioned:
            # When this transaction's versions became visible, for delta's overlap window.
            self.connection.execute(
                _MARK,
                {
                    "tenant": self.tenant_id,
                    "version": self._last_version,
                    "at": dt.datetime.now(dt.UTC),
                },
            )

    def _mark_and_observe(self, counters: dict[str, int]) -> None:
        """SQLite: the commit mark inserted with the observers' probes evaluated in
        its ``RETURNING`` (one statement; the counters in one more), then the
        observers that have work."""
        probed = [o for o in _observers if o in _probes] if _SQLITE_RETURNING else []
        bound = {"tenant": self.tenant_id, "version": self._last_version,
                 "at": dt.datetime.now(dt.UTC)}  # fmt: skip
        called = [o for o in _observers if o not in probed]
        if probed:
            row = self.connection.execute(_mark_probing(probed), bound).one()
            called += [o for o, found in zip(probed, row, strict=True) if found]
        else:
            self.connection.execute(_MARK, bound)
        for observe in called:
            observe(self, self._first_version + 1, self._last_version)
        counters[CHANGE_VERSION] = self._last_version
        self.connection.execute(
            _SET_COUNTER,
            [{"tenant": self.tenant_id, "counter": k, "new_value": v} for k, v in counters.items()],
        )

    def _flush_in_one_statement(self, counters: dict[str, int]) -> None:
        """The counters and the commit mark in one round trip (PostgreSQL, under the
        version lock: every statement here is one more that the tenant's writers wait)."""
        self.connection.execute(
            _SET_COUNTERS_AND_MARK,
            {
                "tenant": self.tenant_id,
                "version": self._last_version,
                "at": dt.datetime.now(dt.UTC),
                "names": list(counters),
                "values": list(counters.values()),
            },
        )


@dataclass(frozen=True)
class RowWrite:
    """One row's insert, or update by (tenant_id, id) of the other columns ``row``
    names: a write's own row, which ``lock_people`` can run with its lock."""

    table: sa.Table
    row: dict[str, Any]
    update: bool = False

    def statement(self) -> sa.Insert | sa.Update:
        if self.update:
            return _update_by_key(self.table, self.row)
        key = (self.table.name, tuple(self.row))
        statement = _INSERTS.get(key)
        if statement is None:
            statement = _INSERTS.setdefault(
                key, self.table.insert().values({n: sa.bindparam(n) for n in self.row})
            )
        return statement

    def params(self) -> dict[str, Any]:
        return _keyed([self.row])[0] if self.update else self.row

    def run(self, connection: sa.Connection) -> None:
        connection.execute(self.statement(), self.params())

    def compiled(self, connection: sa.Connection) -> tuple[str, dict[str, Any]]:
        """Its SQL for ``exec_driver_sql`` (compiled once per shape; PostgreSQL's
        driver takes these Python values as they are) and its parameters."""
        statement = self.statement()
        key = (id(statement), connection.dialect.name)
        sql = _COMPILED.get(key)
        if sql is None:
            sql = _COMPILED.setdefault(key, str(statement.compile(dialect=connection.dialect)))
        return sql, self.params()


_INSERTS: dict[tuple[str, tuple[str, ...]], sa.Insert] = {}
_COMPILED: dict[tuple[int, str], str] = {}


@contextmanager
def write_transaction(engine: Engine, tenant_id: int) -> Iterator[WriteTransaction]:
    """A transaction that holds the tenant's write lock until it commits."""
    with plain_write_transaction(engine) as connection:
        if is_postgresql(engine):
            last = _read_counter(connection, tenant_id, CHANGE_VERSION, lock=True)
            tx = WriteTransaction(connection, tenant_id, last, last)
        else:  # BEGIN IMMEDIATE holds every counter: all of them in one query
            counters = _read_counters(connection, tenant_id)
            last = counters.pop(CHANGE_VERSION)
            tx = WriteTransaction(connection, tenant_id, last, last, _id_counters=counters)
        yield tx
        tx._flush_counters()
    for callback in tx._after_commit:
        callback()


@contextmanager
def late_write_transaction(engine: Engine, tenant_id: int) -> Iterator[WriteTransaction]:
    """A tenant's write that takes the version lock last (issue 14, item 1).

    On PostgreSQL the work runs with provisional versions and ids, concurrently with
    the tenant's other writers; ``lock_versions`` (called at the latest before commit)
    takes the counter row's lock and stamps the final ones, so what a reader can see
    is still a prefix of the version sequence. Rows carrying provisional values are
    this transaction's own, invisible to everyone else until they are final.
    SQLite's ``BEGIN IMMEDIATE`` already is the lock: there this is ``write_transaction``.
    """
    if not is_postgresql(engine):
        with write_transaction(engine, tenant_id) as tx:
            yield tx
        return
    with plain_write_transaction(engine) as connection:
        pid = int(connection.connection.dbapi_connection.info.backend_pid)  # type: ignore[union-attr]
        provisional = _Provisional(pid << 32)
        tx = WriteTransaction(connection, tenant_id, 0, 0, locked=False)
        tx._provisional = provisional
        yield tx
        if not tx.locked and (provisional.versions or provisional.id_counts):
            tx.seal()  # else nothing was versioned: no lock needed
        tx._flush_counters()
    for callback in tx._after_commit:
        callback()


# Tables whose ids ``allocate_ids`` may hand out provisionally (they are rewritten in
# the same statement as the rows' versions): the rows a clocking write inserts.
_ID_TABLES = {"clockings": tables.clockings, **tables.TOTAL_TABLES}


@dataclass
class _Provisional:
    """The provisional versions and ids of a late transaction before its lock.

    The k-th is ``-(base + k)``, ``base`` being the backend's process id shifted left
    32 bits: unique among running transactions, so that two of them never meet on a
    unique index (PostgreSQL would make the second wait for the first's commit).
    The final value is then ``last committed + k``: one UPDATE per table rewrites all.
    """

    base: int
    versions: int = 0
    id_counts: dict[str, int] = field(default_factory=dict)
    tables: dict[str, sa.Table] = field(default_factory=dict)
    deferred: list[tuple[sa.Table, list[dict[str, Any]]]] = field(default_factory=list)
    updates: list[tuple[sa.Table, list[dict[str, Any]]]] = field(default_factory=list)
    deletes: list[tuple[sa.Table, list[int]]] = field(default_factory=list)

    def version(self, table: sa.Table | None) -> int:
        if table is not None:
            self.tables.setdefault(table.name, table)
        self.versions += 1
        return -(self.base + self.versions)

    def ids(self, collection: str, count: int) -> range:
        if collection not in _ID_TABLES:
            raise RuntimeError(f"no provisional ids for {collection!r}; lock_versions first")
        first = self.id_counts.get(collection, 0) + 1
        self.id_counts[collection] = first - 1 + count
        return range(-(self.base + first), -(self.base + first + count), -1)

    def finish(
        self, connection: sa.Connection, tenant_id: int, last: int, last_ids: dict[str, int]
    ) -> None:
        """Rewrite every provisional value to its final one (under the version lock)."""
        id_collections = {table.name: name for name, table in _ID_TABLES.items()}
        updates = []
        for name, table in self.tables.items():
            values: dict[str, Any] = {"change_version": (last - self.base) - table.c.change_version}
            collection = id_collections.get(name)
            if collection in self.id_counts:
                offset = last_ids[collection] - self.base
                values["id"] = sa.case((table.c.id < 0, offset - table.c.id), else_=table.c.id)
            updates.append(
                table.update()
                .where(table.c.tenant_id == tenant_id, table.c.change_version < 0)
                .values(values)
            )
        if updates:  # one statement: the others as data-modifying WITH clauses
            first, *others = updates
            ctes = [update.cte(f"stamp_{n}") for n, update in enumerate(others)]
            connection.execute(first.add_cte(*ctes) if ctes else first)
        for table, rows in self.final_deferred(last, last_ids):
            connection.execute(table.insert(), rows)
        for table, rows in self.final_deferred(last, last_ids, updates=True):
            connection.execute(_update_by_key(table, rows[0]), _keyed(rows))
        for table, ids in self.deletes:
            connection.execute(_delete_by_ids(table), {"tenant": tenant_id, "ids": ids})

    def provisionals(self) -> Provisionals:
        """What ``_seal.run_seal`` makes final."""
        id_collections = {table.name: name for name, table in _ID_TABLES.items()}

        def ids_of(table: sa.Table) -> str | None:
            collection = id_collections.get(table.name)
            return collection if collection in self.id_counts else None

        return Provisionals(
            self.base,
            self.versions,
            dict(self.id_counts),
            [(table, ids_of(table)) for table in self.tables.values()],
            [(table, ids_of(table), rows) for table, rows in self.deferred],
            [(table, ids_of(table), rows) for table, rows in self.updates],
            [(table, list(ids)) for table, ids in self.deletes],
        )

    def final_deferred(
        self, last: int, last_ids: dict[str, int], updates: bool = False
    ) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
        """The rows given to ``insert_versioned`` (``update_versioned``), with their
        final versions and ids."""
        id_collections = {table.name: name for name, table in _ID_TABLES.items()}
        found = []
        for table, rows in self.updates if updates else self.deferred:
            collection = id_collections.get(table.name)
            id_offset = None
            if collection in self.id_counts:
                id_offset = last_ids[collection] - self.base
            final = []
            for row in rows:
                row = dict(row)
                if row["change_version"] < 0:
                    row["change_version"] = last - self.base - row["change_version"]
                if id_offset is not None and row["id"] < 0:
                    row["id"] = id_offset - row["id"]
                final.append(row)
            found.append((table, final))
        return found


@contextmanager
def plain_write_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A write that versions nothing: SQLite's write lock up front, then commit."""
    with _writer_turn(engine), _unavailability_as_errors():
        connect = engine.connect().execution_options(**SQLITE_IMMEDIATE_OPTIONS)
        with connect as connection, connection.begin():
            yield connection


@contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """On SQLite, wait for this process's other writers first (``WriterQueue``)."""
    queue = writer_queue(engine)
    if queue is None:
        yield
        return
    if not queue.lock.acquire(timeout=queue.timeout):
        raise DatabaseBusy(f"other writers of this process held the database {queue.timeout:g} s")
    try:
        yield
    finally:
        queue.lock.release()


@contextmanager
def read_transaction(engine: Engine, *, snapshot: bool = False) -> Iterator[sa.Connection]:
    """A read-only transaction (deferred on SQLite, READ COMMITTED on PostgreSQL).

    ``snapshot=True`` makes every statement see the same committed state on
    PostgreSQL too (REPEATABLE READ); a SQLite read transaction always does.
    """
    with _unavailability_as_errors():
        connection = engine.connect()
        if snapshot and is_postgresql(engine):
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection, connection.begin():
            yield connection


def read_statement(
    engine: Engine, statement: sa.Executable, parameters: dict[str, object] | None = None
) -> list[sa.Row[tuple[object, ...]]]:
    """The rows of one read-only statement, in as few round trips as the database allows.

    For reads made on every API call (the tenant's clock, its fault rules, its restore
    count; issue 13): a single statement is its own transaction, as consistent as one in
    ``BEGIN`` ... ``COMMIT``, without those two statements (BENCHMARKS.md, "Sandbox
    overhead"). PostgreSQL runs it in autocommit (READ COMMITTED); SQLite in its
    implicit per-statement transaction (the connection's ``BEGIN`` is skipped).
    """
    options: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT"}
        if is_postgresql(engine)
        else dict(SQLITE_SINGLE_STATEMENT_OPTIONS)
    )
    with _unavailability_as_errors(), engine.connect().execution_options(**options) as connection:
        return list(connection.execute(statement, parameters or {}))


def read_back_row(
    connection: sa.Connection, tenant_id: int, read_back: ReadBack, record_id: int | None = None
) -> tuple[Any, ...] | None:
    """``read_back``'s columns of the tenant's row ``record_id`` (default: the one it
    names), None if there is none: the answer of a write that is not sealed in SQL."""
    table = read_back.table
    key = (table.name, tuple(str(c.key) for c in read_back.columns))
    query = _READ_BACK.get(key)
    if query is None:
        query = sa.select(*read_back.columns).where(
            table.c.tenant_id == sa.bindparam("tenant"), table.c.id == sa.bindparam("id")
        )
        _READ_BACK[key] = query
    chosen = read_back.record_id if record_id is None else record_id
    row = connection.execute(query, {"tenant": tenant_id, "id": chosen}).first()
    return None if row is None else tuple(row)


def ensure_tenant_counters(connection: sa.Connection, tenant_id: int, names: list[str]) -> None:
    """Create the tenant's counter rows (at zero) that do not exist yet."""
    existing = set(
        connection.scalars(
            sa.select(tenant_counters.c.name).where(tenant_counters.c.tenant_id == tenant_id)
        )
    )
    missing = [n for n in [CHANGE_VERSION, *names] if n not in existing]
    if missing:
        connection.execute(
            tenant_counters.insert(),
            [{"tenant_id": tenant_id, "name": n, "value": 0} for n in missing],
        )


def bump_tenant_counter(connection: sa.Connection, tenant_id: int, name: str) -> None:
    """Raise one of the tenant's counters by one (created at 1), in ``connection``'s
    transaction: the generation of state that takes no change version (the org tree
    and circles), which a list page read ahead compares (``records/_read_ahead.py``)."""
    connection.execute(_BUMP_COUNTER, {"tenant": tenant_id, "name": name})


_BUMP_COUNTER = sa.text(
    "INSERT INTO tenant_counters (tenant_id, name, value) VALUES (:tenant, :name, 1) "
    "ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_counters.value + 1"
)


# Built once: every write runs these (building a statement costs more than running it).
_READ_BACK: dict[tuple[str, tuple[str, ...]], sa.Select[Any]] = {}
_COUNTER = sa.select(tenant_counters.c.value).where(
    tenant_counters.c.tenant_id == sa.bindparam("tenant"),
    tenant_counters.c.name == sa.bindparam("name"),
)
_COUNTER_FOR_UPDATE = _COUNTER.with_for_update()
_ALL_COUNTERS = sa.select(tenant_counters.c.name, tenant_counters.c.value).where(
    tenant_counters.c.tenant_id == sa.bindparam("tenant")
)
_MARK = change_marks.insert().values(
    tenant_id=sa.bindparam("tenant"),
    change_version=sa.bindparam("version"),
    committed_at=sa.bindparam("at"),
)
_MARKS_PROBING: dict[tuple[int, ...], sa.Insert] = {}
# RETURNING came with SQLite 3.35; an older library inserts the mark and calls every
# observer (which then runs its own check).
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)
_LOCK_COUNTERS = (
    sa.select(tenant_counters.c.name, tenant_counters.c.value)
    .where(
        tenant_counters.c.tenant_id == sa.bindparam("tenant"),
        tenant_counters.c.name.in_(sa.bindparam("names", expanding=True)),
    )
    .order_by(tenant_counters.c.name != CHANGE_VERSION)
    .with_for_update()
)
_SET_COUNTERS_AND_MARK = sa.text(
    "WITH mark AS (INSERT INTO change_marks (tenant_id, change_version, committed_at) "
    "VALUES (:tenant, :version, :at)) "
    "UPDATE tenant_counters SET value = data.value "
    "FROM unnest(CAST(:names AS varchar[]), CAST(:values AS bigint[])) AS data(name, value) "
    "WHERE tenant_counters.tenant_id = :tenant AND tenant_counters.name = data.name"
)
# Person locks (lock_people): advisory locks (tenant, person), taken in the order of
# the array (the tenant-wide key 0 shared, then the people sorted). The two-key form
# keeps them apart from the one-key locks (migrations, the sync's schema).
_ALL_PEOPLE = 0
_LOCK_PEOPLE = sa.text(
    "SELECT CASE WHEN p = 0 THEN pg_advisory_xact_lock_shared(CAST(:tenant AS integer), 0) "
    "ELSE pg_advisory_xact_lock(CAST(:tenant AS integer), CAST(p % 2147483647 AS integer)) END "
    "FROM unnest(CAST(:keys AS bigint[])) AS p"
)
# The same for exec_driver_sql, after a row write's WITH clause.
_LOCK_PEOPLE_PG = (
    "SELECT CASE WHEN p = 0 THEN pg_advisory_xact_lock_shared(CAST(%(lock_tenant)s AS integer), "
    "0) ELSE pg_advisory_xact_lock(CAST(%(lock_tenant)s AS integer), "
    "CAST(p %% 2147483647 AS integer)) END FROM unnest(CAST(%(lock_keys)s AS bigint[])) AS p"
)
_PEOPLE_LOCK_SQL: dict[tuple[int, int, str], tuple[str, dict[str, Any]]] = {}
_BOUND = re.compile(r"%\((\w+)\)s")


def _people_lock_sql(
    connection: sa.Connection, along: RowWrite | None, read: sa.Select[Any] | None
) -> tuple[str, dict[str, Any]]:
    """The people's lock with the row write as a ``WITH`` clause and ``read``'s
    columns as the statement's one row (its ``tenant`` parameter is the lock's), and
    the parameters: the row's and ``read``'s own constants."""
    params = {} if along is None else along.params()
    key = (id(along.statement()) if along else 0, id(read), connection.dialect.name)
    built = _PEOPLE_LOCK_SQL.get(key)
    if built is None:
        clauses = [] if along is None else [f"row_write AS ({along.compiled(connection)[0]})"]
        clauses.append(f"locks AS ({_LOCK_PEOPLE_PG})")
        selected, constants = "count(*)", {}
        if read is not None:
            compiled = read.compile(dialect=connection.dialect)
            constants = {f"r_{n}": v for n, v in compiled.params.items() if n != "tenant"}
            text = _BOUND.sub(
                lambda m: "%(lock_tenant)s" if m.group(1) == "tenant" else f"%(r_{m.group(1)})s",
                compiled.string,
            )
            selected = "read.*, (SELECT count(*) FROM locks) AS locked"
            built = (
                f"WITH {', '.join(clauses)} SELECT {selected} FROM ({text}) AS read",
                constants,
            )
        else:
            built = (f"WITH {', '.join(clauses)} SELECT {selected} FROM locks", constants)
        _PEOPLE_LOCK_SQL[key] = built
    sql, constants = built
    return sql, {**params, **constants}


_LOCK_ALL_PEOPLE = sa.text("SELECT pg_advisory_xact_lock(CAST(:tenant AS integer), 0)")
_SET_COUNTER = (
    tenant_counters.update()
    .where(
        tenant_counters.c.tenant_id == sa.bindparam("tenant"),
        tenant_counters.c.name == sa.bindparam("counter"),
    )
    .values(value=sa.bindparam("new_value"))
)


def _update_by_key(table: sa.Table, sample: dict[str, Any]) -> sa.Update:
    """An executemany UPDATE keyed by (tenant_id, id) setting the other keys of
    ``sample`` (built once per table and set of columns)."""
    columns = tuple(name for name in sample if name not in ("tenant_id", "id"))
    statement = _UPDATES.get((table.name, columns))
    if statement is None:
        key = (table.c.tenant_id == sa.bindparam("k_tenant"), table.c.id == sa.bindparam("k_id"))
        statement = table.update().where(*key).values({n: sa.bindparam(f"v_{n}") for n in columns})
        _UPDATES[(table.name, columns)] = statement
    return statement


def _keyed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``_update_by_key``'s parameters for these rows."""
    return [
        {
            **{
                f"v_{name}": value for name, value in row.items() if name not in ("tenant_id", "id")
            },
            "k_tenant": row["tenant_id"],
            "k_id": row["id"],
        }
        for row in rows
    ]


_UPDATES: dict[tuple[str, tuple[str, ...]], sa.Update] = {}
_DELETES: dict[str, sa.Delete] = {}


def _delete_by_ids(table: sa.Table) -> sa.Delete:
    """A DELETE of the tenant's rows by a list of ids (built once per table)."""
    statement = _DELETES.get(table.name)
    if statement is None:
        statement = table.delete().where(
            table.c.tenant_id == sa.bindparam("tenant"),
            table.c.id.in_(sa.bindparam("ids", expanding=True)),
        )
        _DELETES[table.name] = statement
    return statement


def _read_counters(connection: sa.Connection, tenant_id: int) -> dict[str, int]:
    """All the tenant's counters (SQLite, under ``BEGIN IMMEDIATE``)."""
    found = {
        row.name: int(row.value) for row in connection.execute(_ALL_COUNTERS, {"tenant": tenant_id})
    }
    if CHANGE_VERSION not in found:
        raise LookupError(f"tenant {tenant_id} has no counter {CHANGE_VERSION!r}")
    return found


def _mark_probing(probed: list[VersionedWriteObserver]) -> sa.Insert:
    """The commit mark's insert returning whether each probe found a row (built once
    per set of observers)."""
    key = tuple(id(o) for o in probed)
    statement = _MARKS_PROBING.get(key)
    if statement is None:
        statement = _MARK.returning(
            *(sa.exists(_probes[o]).label(f"probe_{n}") for n, o in enumerate(probed))
        )
        _MARKS_PROBING[key] = statement
    return statement


def _read_counter(connection: sa.Connection, tenant_id: int, name: str, *, lock: bool) -> int:
    query = _COUNTER_FOR_UPDATE if lock and is_postgresql(connection.engine) else _COUNTER
    value = connection.scalar(query, {"tenant": tenant_id, "name": name})
    if value is not None:
        return int(value)
    if name == CHANGE_VERSION:
        raise LookupError(f"tenant {tenant_id} has no counter {name!r}")
    # An id counter of a collection added after the tenant was created (the totals
    # of migration 0002): it starts at zero. Only written under the tenant's lock.
    connection.execute(tenant_counters.insert().values(tenant_id=tenant_id, name=name, value=0))
    return 0


def _lock_counters(connection: sa.Connection, tenant_id: int, names: list[str]) -> dict[str, int]:
    """Lock the version counter and read it with these id counters, in one statement.

    The version row is locked first (the sort comes before the lock), so a writer
    waiting for it holds no id counter row; only version-lock holders write those.
    Missing id counters are created at zero.
    """
    wanted = [CHANGE_VERSION, *names]
    if not is_postgresql(connection.engine):
        return {name: _read_counter(connection, tenant_id, name, lock=False) for name in wanted}
    rows = connection.execute(_LOCK_COUNTERS, {"tenant": tenant_id, "names": wanted})
    found = {row.name: int(row.value) for row in rows}
    if CHANGE_VERSION not in found:
        raise LookupError(f"tenant {tenant_id} has no counter {CHANGE_VERSION!r}")
    for name in names:
        if name not in found:
            found[name] = _read_counter(connection, tenant_id, name, lock=False)
    return found
