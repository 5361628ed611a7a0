"""A late write's last statement on PostgreSQL: everything under the version lock in one.

Issue 14, item 1: writers of one tenant queue for its version lock, so every round
trip made while holding it is one that all of them wait for (on a busy 2-core machine
a round trip can take milliseconds: the worker and the database backend each wait
for a core). After the lock statement (``_transactions._lock_counters``) a late write
runs exactly one more statement before ``COMMIT``, built here from data-modifying
``WITH`` clauses:

* every table's provisional versions and ids rewritten to the final ones;
* the rows given to ``insert_versioned`` and ``update_versioned`` (departures, the
  totals a recalculation changed), with their final versions and ids;
* the id counters and the version counter set, and the commit mark inserted;
* each versioned-write observer's *probe* (does it have anything to do?), so that an
  observer with nothing to do (a tenant without webhooks) costs no round trip;
* the row the write answers with, read back from its table's stamp (``RETURNING``:
  the main query cannot see the stamp's effect on the table itself).

The statement starts after the lock was granted, so under READ COMMITTED its snapshot
sees every transaction that committed before: a webhook subscription committed before
our lock is seen by its probe, and gets our events. The SQL is built once per shape
(which tables, which read-back) and cached; only the values vary.
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
class Stamp:
    """One table's rewrite: final version = ``version_offset`` - provisional version,
    final id = ``id_offset`` - provisional id (None: its ids are all final)."""

    table: sa.Table
    version_offset: int
    id_offset: int | None


@dataclass(frozen=True)
class SealResult:
    row: tuple[Any, ...] | None  # the read-back row's columns; None if not found
    probes: tuple[bool, ...]


def run_seal(
    connection: sa.Connection,
    tenant_id: int,
    stamps: Sequence[Stamp],
    deferred: Sequence[tuple[sa.Table, list[dict[str, Any]]]],
    updates: Sequence[tuple[sa.Table, list[dict[str, Any]]]],
    counters: dict[str, int],
    mark_version: int | None,
    probes: Sequence[sa.Select[Any]],
    read_back: ReadBack | None,
) -> SealResult:
    """Run the one statement (see the module docstring); its read-back row and probes."""
    shape = _Shape(
        tuple((s.table.name, s.id_offset is not None) for s in stamps),
        tuple((table.name, tuple(rows[0])) for table, rows in deferred),
        tuple((table.name, tuple(rows[0])) for table, rows in updates),
        mark_version is not None,
        tuple(id(p) for p in probes),
        None if read_back is None else (read_back.table.name, _names(read_back.columns)),
    )
    sql = _statements.get(shape)
    if sql is None:
        sql = _statements.setdefault(shape, _build(connection, shape, probes, read_back))
    params: dict[str, Any] = {"tenant": tenant_id}
    for n, stamp in enumerate(stamps):
        params[f"s{n}_v"] = stamp.version_offset
        if stamp.id_offset is not None:
            params[f"s{n}_i"] = stamp.id_offset
    for n, (_table, rows) in enumerate(deferred):
        params[f"d{n}"] = orjson.dumps(rows).decode()
    for n, (_table, rows) in enumerate(updates):
        params[f"u{n}"] = orjson.dumps(rows).decode()
        params[f"u{n}_ids"] = [row["id"] for row in rows]
    params["names"], params["values"] = list(counters), list(counters.values())
    if mark_version is not None:
        params["version"], params["at"] = mark_version, dt.datetime.now(dt.UTC)
    for n, probe in enumerate(probes):
        params.update(_probe_sql(connection, probe)[1](n))
    if read_back is not None:
        params["read_id"] = read_back.record_id
    row = connection.exec_driver_sql(sql, params).one()
    found = tuple(bool(row[n]) for n in range(len(probes)))
    if read_back is None:
        return SealResult(None, found)
    found_row, *back = row[len(probes) :]
    return SealResult(tuple(back) if found_row else None, found)


@dataclass(frozen=True)
class _Shape:
    stamps: tuple[tuple[str, bool], ...]
    deferred: tuple[tuple[str, tuple[str, ...]], ...]
    updates: tuple[tuple[str, tuple[str, ...]], ...]
    mark: bool
    probes: tuple[int, ...]
    read_back: tuple[str, tuple[str, ...]] | None


_statements: dict[_Shape, str] = {}
_lock = threading.Lock()


def _names(columns: Sequence[sa.ColumnElement[Any]]) -> tuple[str, ...]:
    return tuple(str(column.key) for column in columns)


def _build(
    connection: sa.Connection,
    shape: _Shape,
    probes: Sequence[sa.Select[Any]],
    read_back: ReadBack | None,
) -> str:
    clauses = []
    back = None if read_back is None else read_back.table.name
    for n, (name, has_ids) in enumerate(shape.stamps):
        sets = f"change_version = %(s{n}_v)s - change_version"
        if has_ids:
            sets += f", id = CASE WHEN id < 0 THEN %(s{n}_i)s - id ELSE id END"
        returning = ""
        if name == back and shape.read_back is not None:
            returning = " RETURNING " + ", ".join(shape.read_back[1])
        clauses.append(
            f"s{n} AS (UPDATE {name} SET {sets} "
            f"WHERE tenant_id = %(tenant)s AND change_version < 0{returning})"
        )
    for n, (name, columns) in enumerate(shape.deferred):
        listed = ", ".join(columns)
        clauses.append(
            f"d{n} AS (INSERT INTO {name} ({listed}) SELECT {listed} "
            f"FROM json_populate_recordset(NULL::{name}, CAST(%(d{n})s AS json)))"
        )
    for n, (name, columns) in enumerate(shape.updates):
        sets = ", ".join(f"{c} = data.{c}" for c in columns if c not in ("tenant_id", "id"))
        clauses.append(
            f"u{n} AS (UPDATE {name} SET {sets} "
            f"FROM json_populate_recordset(NULL::{name}, CAST(%(u{n})s AS json)) AS data "
            # The ids again as an array: the rows are then found by the primary key
            # (the planner guesses 100 rows for a JSON record set, and hashes a scan).
            f"WHERE {name}.tenant_id = %(tenant)s AND {name}.id = ANY(CAST(%(u{n}_ids)s "
            f"AS bigint[])) AND {name}.id = data.id)"
        )
    counters = tenant_counters.name
    clauses.append(
        f"counters AS (UPDATE {counters} SET value = data.value "
        "FROM unnest(CAST(%(names)s AS varchar[]), CAST(%(values)s AS bigint[])) "
        f"AS data(name, value) WHERE {counters}.tenant_id = %(tenant)s "
        f"AND {counters}.name = data.name)"
    )
    if shape.mark:
        clauses.append(
            f"mark AS (INSERT INTO {change_marks.name} (tenant_id, change_version, "
            "committed_at) VALUES (%(tenant)s, %(version)s, %(at)s))"
        )
    selected = [
        f"EXISTS ({_probe_sql(connection, probe)[0](n)}) AS probe_{n}"
        for n, probe in enumerate(probes)
    ]
    source = "(SELECT 1) AS one"
    if shape.read_back is not None:
        stamp = next((f"s{n}" for n, (name, _) in enumerate(shape.stamps) if name == back), None)
        if stamp is None:
            raise RuntimeError(f"read back from {back!r}, which this write did not stamp")
        selected.append(f"{stamp}.id IS NOT NULL AS found")
        selected += [f"{stamp}.{column}" for column in shape.read_back[1]]
        source += f" LEFT JOIN {stamp} ON {stamp}.id = %(read_id)s"
    return f"WITH {', '.join(clauses)} SELECT {', '.join(selected) or '1'} FROM {source}"


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
