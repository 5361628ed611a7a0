"""Transactions, and the per-tenant counter row that orders every write.

Contract, "Delta": a ``changeVersion`` is strictly increasing per tenant, and a delta
reader must never be handed a version past one that a still-running transaction can
yet commit with. A plain sequence breaks that on PostgreSQL: writer A takes 7, writer
B takes 8 and commits, a reader sees 8 and moves its cursor past 7, then A commits 7
and the reader never sees it.

chronodelta therefore serializes the writes of one tenant on its ``change_version``
counter row. A write transaction locks that row as its *first* statement (``SELECT ...
FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` takes SQLite's single write lock) and
holds it until it commits, so versions are handed out in commit order: whatever a
reader can see is always a prefix of the version sequence. Taking the lock first
also rules out deadlocks between it and the row locks of the data. Tenants do not
block each other on PostgreSQL.

Every transaction anyone opens comes from this module, in one of three kinds:

* ``read_transaction``: reads only (deferred on SQLite, where WAL readers never wait
  for the writer; READ COMMITTED on PostgreSQL, or one REPEATABLE READ snapshot).
* ``write_transaction``: a tenant's write, under its counter lock (above).
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ._engine import SQLITE_IMMEDIATE_OPTIONS, is_postgresql, writer_queue
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


def observe_versioned_writes(observer: VersionedWriteObserver) -> None:
    """Call ``observer`` in every versioned write transaction of this process."""
    if observer not in _observers:
        _observers.append(observer)


@dataclass
class WriteTransaction:
    """One tenant's write transaction; hands out change versions and ids."""

    connection: sa.Connection
    tenant_id: int
    _last_version: int
    _first_version: int = 0
    _id_counters: dict[str, int] = field(default_factory=dict)
    _dirty_ids: set[str] = field(default_factory=set)
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction has committed (never if it fails)."""
        self._after_commit.append(callback)

    def next_change_version(self) -> int:
        """A new version, greater than every version this tenant has committed."""
        self._last_version += 1
        return self._last_version

    @property
    def last_change_version(self) -> int:
        """The highest version handed out so far (before any: the tenant's committed one)."""
        return self._last_version

    def allocate_ids(self, collection: str, count: int = 1) -> range:
        """``count`` new ids for ``collection`` in this tenant."""
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
        last = self.allocate_ids(collection, 0).start - 1
        self._id_counters[collection] = max(last, highest)

    def restore_id_counter(self, collection: str, last: int) -> None:
        """Set ``collection``'s id counter to ``last``, down as well as up.

        For a tenant restored to a snapshot (issue 13, item 4): it hands out the ids it
        handed out after the snapshot, so a test run started from it is repeatable.
        Only the ids of rows the restore removed come back into use; never versions.
        """
        self.allocate_ids(collection, 0)
        self._id_counters[collection] = last

    def _flush_counters(self) -> None:
        for name in self._dirty_ids:
            _write_counter(self.connection, self.tenant_id, name, self._id_counters[name])
        if self._last_version == self._first_version:
            return  # nothing was versioned
        for observe in _observers:
            observe(self, self._first_version + 1, self._last_version)
        _write_counter(self.connection, self.tenant_id, CHANGE_VERSION, self._last_version)
        # When this transaction's versions became visible, for delta's overlap window.
        self.connection.execute(
            change_marks.insert().values(
                tenant_id=self.tenant_id,
                change_version=self._last_version,
                committed_at=dt.datetime.now(dt.UTC),
            )
        )


@contextmanager
def write_transaction(engine: Engine, tenant_id: int) -> Iterator[WriteTransaction]:
    """A transaction that holds the tenant's write lock until it commits."""
    with plain_write_transaction(engine) as connection:
        last = _read_counter(connection, tenant_id, CHANGE_VERSION, lock=True)
        tx = WriteTransaction(connection, tenant_id, last, last)
        yield tx
        tx._flush_counters()
    for callback in tx._after_commit:
        callback()


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

    For reads made on every API call (the sandbox's fault rules, issue 13): on
    PostgreSQL in autocommit, a single statement is its own READ COMMITTED transaction,
    which saves the ``BEGIN`` and ``COMMIT`` round trips of ``read_transaction``
    (BENCHMARKS.md, "Sandbox overhead"). SQLite reads a local file; it uses
    ``read_transaction``.
    """
    if not is_postgresql(engine):
        with read_transaction(engine) as connection:
            return list(connection.execute(statement, parameters or {}))
    with _unavailability_as_errors():
        autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            return list(connection.execute(statement, parameters or {}))


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


# Built once: every write runs these (building a statement costs more than running it).
_COUNTER = sa.select(tenant_counters.c.value).where(
    tenant_counters.c.tenant_id == sa.bindparam("tenant"),
    tenant_counters.c.name == sa.bindparam("name"),
)
_COUNTER_FOR_UPDATE = _COUNTER.with_for_update()
_SET_COUNTER = (
    tenant_counters.update()
    .where(
        tenant_counters.c.tenant_id == sa.bindparam("tenant"),
        tenant_counters.c.name == sa.bindparam("counter"),
    )
    .values(value=sa.bindparam("new_value"))
)


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


def _write_counter(connection: sa.Connection, tenant_id: int, name: str, value: int) -> None:
    connection.execute(_SET_COUNTER, {"tenant": tenant_id, "counter": name, "new_value": value})
