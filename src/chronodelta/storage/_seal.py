"""A late write's end on PostgreSQL: the version lock and everything under it, in one
round trip.

Issue 14, item 1: writers of one tenant queue for its version lock, so every round
trip made while holding it is one that all of them wait for (on a busy 2-core machine
a round trip can take milliseconds: the worker and the database backend each wait
for a core, and the worker's thread for the GIL). So a late write sends two
statements as one query, then commits:

1. the lock: the tenant's counters ``SELECT ... FOR UPDATE``, the version row first;
2. the seal, data-modifying ``WITH`` clauses that compute every final value from the
   counters, read now that they are locked and current:

   * every table's provisional versions and ids rewritten to the final ones;
   * the rows given to ``insert_versioned`` and ``update_versioned`` (departures, the
     totals a recalculation changed), with their final versions and ids, and those
     given to ``delete_by_ids`` (the totals it removed) deleted;
   * the counters moved on, and the commit mark inserted;
   * each versioned-write observer's *probe* (does it have anything to do?), so that
     an observer with nothing to do (a tenant without webhooks) costs no round trip;
   * the row the write answers with, read back from its table's stamp (``RETURNING``:
     the main query cannot see the stamp's effect on the table itself).

The server runs the two in order (psycopg's pipeline mode sends them together), and
under READ COMMITTED the seal's snapshot is taken when it starts, after the lock was
granted: it sees every
transaction that committed before, so a webhook subscription committed before our
lock is seen by its probe and gets our events. The SQL is built once per shape (which
tables, which read-back) and cached; only the values vary.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from .tables import change_marks, tenant_counters

CHANGE_VERSION = "change_version"  # as in _transactions (which imports this module)

_PARAMETER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class ReadBack:
    """The row a write answers with: ``columns`` of ``table``'s row ``record_id``
    (provisional or final; ``id_counter`` names the counter its provisional ids use)."""

    table: sa.Table
    columns: tuple[sa.ColumnElement[Any], ...]
    record_id: int
    id_counter: str | None = None


@dataclass(frozen=True)
class Sealed:
    """What the seal found: the counters' values before it (the last committed
    version, the id counters), each probe's answer, and the read-back row (None:
    not found)."""

    last: int
    last_ids: dict[str, int]
    probes: tuple[bool, ...]
    row: tuple[Any, ...] | None


@dataclass(frozen=True)
class Provisionals:
    """A late write's provisional values (``_transactions._Provisional``): the k-th
    version or id is ``-(base + k)``, its final value ``last + k``."""

    base: int
    versions: int
    id_counts: dict[str, int]
    stamped: Sequence[tuple[sa.Table, str | None]]  # each table, the counter of its ids
    inserts: Sequence[tuple[sa.Table, str | None, list[dict[str, Any]]]]
    updates: Sequence[tuple[sa.Table, str | None, list[dict[str, Any]]]]
    deletes: Sequence[tuple[sa.Table, list[int]]] = ()  # rows committed before: final ids


def run_seal(
    connection: sa.Connection,
    tenant_id: int,
    values: Provisionals,
    probes: Sequence[sa.Select[Any]],
    read_back: ReadBack | None,
) -> Sealed:
    """Lock the counters, then make everything final, in one round trip.

    Two statements sent together (``_two_statements``), run in order, each with its
    own READ COMMITTED snapshot: the lock (the version row first), then the seal, which
    computes every final value from the counters it reads, now locked and current.
    """
    names = [CHANGE_VERSION, *sorted(values.id_counts)]
    shape = _Shape(
        tuple(names[1:]),
        tuple((t.name, ids) for t, ids in values.stamped),
        tuple((t.name, ids, tuple(rows[0])) for t, ids, rows in values.inserts),
        tuple((t.name, ids, tuple(rows[0])) for t, ids, rows in values.updates),
        tuple(t.name for t, _ids in values.deletes),
        values.versions > 0,
        tuple(id(p) for p in probes),
        None if read_back is None else (read_back.table.name, _names(read_back.columns)),
    )
    sql = _statements.get(shape)
    if sql is None:
        sql = _statements.setdefault(shape, _build(connection, shape, probes, read_back))
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "names": names,
        "deltas": [values.versions, *(values.id_counts[n] for n in names[1:])],
        "base": values.base,
        "versions": values.versions,
        "at": dt.datetime.now(dt.UTC),
    }
    for n, (_table, _ids, rows) in enumerate(values.inserts):
        params[f"d{n}"] = orjson.dumps(rows).decode()
    for n, (_table, _ids, rows) in enumerate(values.updates):
        params[f"u{n}"] = orjson.dumps(rows).decode()
        params[f"u{n}_ids"] = [row["id"] for row in rows]
    for n, (_table, ids) in enumerate(values.deletes):
        params[f"x{n}"] = ids
    for n, probe in enumerate(probes):
        params.update(_probe_sql(connection, probe)[1](n))
    if read_back is not None:
        params["read_id"] = read_back.record_id
    row = _two_statements(connection, sql, params)
    last, *rest = row
    last_ids = dict(zip(names[1:], rest[: len(names) - 1], strict=True))
    rest = rest[len(names) - 1 :]
    found = tuple(bool(rest[n]) for n in range(len(probes)))
    if read_back is None:
        return Sealed(int(last), last_ids, found, None)
    found_row, *back = rest[len(probes) :]
    return Sealed(int(last), last_ids, found, tuple(back) if found_row else None)


def _two_statements(connection: sa.Connection, sql: str, params: dict[str, Any]) -> Any:
    """Run the lock and then the seal (``sql``) on the transaction's own driver
    connection, in one round trip; the seal's one row.

    psycopg's pipeline mode sends both before it waits for either; the server still
    runs them one after the other, each with its own snapshot, and both are prepared
    statements after a few runs (the seal is planned once, not on every write). A
    driver error becomes SQLAlchemy's, as any statement's would (``DatabaseBusy`` for a
    lock wait past the busy timeout).
    """
    import psycopg  # only here: the PostgreSQL driver is there when the database is

    raw: Any = connection.connection.dbapi_connection
    try:
        with raw.cursor() as lock, raw.cursor() as seal:
            with raw.pipeline():
                lock.execute(_LOCK, params)
                seal.execute(sql, params)
            return seal.fetchone()
    except psycopg.Error as error:
        raise sa.exc.DBAPIError.instance(
            sql, params, error, psycopg.Error, dialect=connection.dialect
        ) from error


@dataclass(frozen=True)
class _Shape:
    id_counters: tuple[str, ...]
    stamps: tuple[tuple[str, str | None], ...]
    inserts: tuple[tuple[str, str | None, tuple[str, ...]], ...]
    updates: tuple[tuple[str, str | None, tuple[str, ...]], ...]
    deletes: tuple[str, ...]
    mark: bool
    probes: tuple[int, ...]
    read_back: tuple[str, tuple[str, ...]] | None


_statements: dict[_Shape, str] = {}
_lock = threading.Lock()
_COUNTERS = tenant_counters.name
# The lock: the counters sorted before they are locked, the version row first, so a
# writer waiting for it holds no id counter row (``_transactions._lock_counters``).
_LOCK = (
    f"SELECT name, value FROM {_COUNTERS} WHERE tenant_id = %(tenant)s "
    "AND name = ANY(CAST(%(names)s AS varchar[])) "
    f"ORDER BY name <> '{CHANGE_VERSION}' FOR UPDATE"
)


def _names(columns: Sequence[sa.ColumnElement[Any]]) -> tuple[str, ...]:
    return tuple(str(column.key) for column in columns)


def _final(value: str, offset: str) -> str:
    """A provisional (negative) value's final one; a final one as it is."""
    return f"CASE WHEN {value} < 0 THEN (SELECT off FROM {offset}) - {value} ELSE {value} END"


def _build(
    connection: sa.Connection,
    shape: _Shape,
    probes: Sequence[sa.Select[Any]],
    read_back: ReadBack | None,
) -> str:
    # Offsets: final = (counter before this write - base) - provisional.
    offsets = {CHANGE_VERSION: "v", **{name: f"i{n}" for n, name in enumerate(shape.id_counters)}}
    clauses = [
        f"cv AS (SELECT name, value FROM {_COUNTERS} WHERE tenant_id = %(tenant)s "
        "AND name = ANY(CAST(%(names)s AS varchar[])))",
        *(
            f"{alias} AS (SELECT COALESCE((SELECT value FROM cv WHERE name = '{name}'), 0) "
            "- %(base)s AS off)"
            for name, alias in offsets.items()
        ),
    ]
    back = None if read_back is None else read_back.table.name
    stamp_of_back = None
    for n, (name, ids) in enumerate(shape.stamps):
        sets = "change_version = (SELECT off FROM v) - change_version"
        if ids is not None:
            sets += f", id = {_final('id', offsets[ids])}"
        returning = ""
        if name == back and shape.read_back is not None:
            returning = " RETURNING " + ", ".join(shape.read_back[1])
            stamp_of_back = (f"s{n}", ids)
        clauses.append(
            f"s{n} AS (UPDATE {name} SET {sets} "
            f"WHERE tenant_id = %(tenant)s AND change_version < 0{returning})"
        )
    for n, (name, ids, columns) in enumerate(shape.inserts):
        picked = [_picked(f"r.{c}", c, ids, offsets) for c in columns]
        clauses.append(
            f"d{n} AS (INSERT INTO {name} ({', '.join(columns)}) SELECT {', '.join(picked)} "
            f"FROM json_populate_recordset(NULL::{name}, CAST(%(d{n})s AS json)) AS r)"
        )
    for n, (name, ids, columns) in enumerate(shape.updates):
        sets = ", ".join(
            f"{c} = {_picked(f'data.{c}', c, ids, offsets)}"
            for c in columns
            if c not in ("tenant_id", "id")
        )
        clauses.append(
            f"u{n} AS (UPDATE {name} SET {sets} "
            f"FROM json_populate_recordset(NULL::{name}, CAST(%(u{n})s AS json)) AS data "
            # The ids again as an array: the rows are then found by the primary key
            # (the planner guesses 100 rows for a JSON record set, and hashes a scan).
            f"WHERE {name}.tenant_id = %(tenant)s AND {name}.id = ANY(CAST(%(u{n}_ids)s "
            f"AS bigint[])) AND {name}.id = data.id)"
        )
    for n, name in enumerate(shape.deletes):
        clauses.append(
            f"x{n} AS (DELETE FROM {name} WHERE tenant_id = %(tenant)s "
            f"AND id = ANY(CAST(%(x{n})s AS bigint[])))"
        )
    clauses.append(
        f"counters AS (INSERT INTO {_COUNTERS} (tenant_id, name, value) "
        "SELECT %(tenant)s, d.name, d.delta FROM unnest(CAST(%(names)s AS varchar[]), "
        "CAST(%(deltas)s AS bigint[])) AS d(name, delta) "
        f"ON CONFLICT (tenant_id, name) DO UPDATE SET value = {_COUNTERS}.value + EXCLUDED.value)"
    )
    if shape.mark:
        clauses.append(
            f"mark AS (INSERT INTO {change_marks.name} (tenant_id, change_version, "
            "committed_at) SELECT %(tenant)s, (SELECT off FROM v) + %(base)s + %(versions)s, "
            "%(at)s)"
        )
    selected = [
        f"(SELECT off FROM {alias}) + %(base)s AS last_{n}"
        for n, alias in enumerate(offsets.values())
    ]
    selected += [
        f"EXISTS ({_probe_sql(connection, probe)[0](n)}) AS probe_{n}"
        for n, probe in enumerate(probes)
    ]
    source = "(SELECT 1) AS one"
    if shape.read_back is not None:
        if stamp_of_back is None:
            raise RuntimeError(f"read back from {back!r}, which this write did not stamp")
        stamp, ids = stamp_of_back
        wanted = "%(read_id)s" if ids is None else _final("%(read_id)s", offsets[ids])
        selected.append(f"{stamp}.id IS NOT NULL AS found")
        selected += [f"{stamp}.{column}" for column in shape.read_back[1]]
        source += f" LEFT JOIN {stamp} ON {stamp}.id = {wanted}"
    seal = f"WITH {', '.join(clauses)} SELECT {', '.join(selected)} FROM {source}"
    return seal


def _picked(value: str, column: str, ids: str | None, offsets: dict[str, str]) -> str:
    """A deferred row's column as it is stored: versions and provisional ids final."""
    if column == "change_version":
        return _final(value, "v")
    if column == "id" and ids is not None:
        return _final(value, offsets[ids])
    return value


_ProbeSql = tuple[Any, Any]  # (n -> SQL text, n -> parameters)
_probes: dict[tuple[int, str], _ProbeSql] = {}


def _probe_sql(connection: sa.Connection, probe: sa.Select[Any]) -> _ProbeSql:
    """The probe compiled once per dialect; its own parameters renamed ``pN_...`` so
    that probes never collide (``tenant`` stays: it is the write's tenant)."""
    key = (id(probe), connection.dialect.name)
    found = _probes.get(key)
    if found is not None:
        return found
    compiled = probe.compile(dialect=connection.dialect)
    text, defaults = compiled.string, dict(compiled.params)
    defaults.pop("tenant", None)

    def sql(n: int) -> str:
        return _PARAMETER.sub(
            lambda m: m.group(0) if m.group(1) == "tenant" else f"%(p{n}_{m.group(1)})s", text
        )

    def params(n: int) -> dict[str, Any]:
        return {f"p{n}_{name}": value for name, value in defaults.items()}

    with _lock:
        return _probes.setdefault(key, (sql, params))
