"""Round trips per clocking write, and how many of them under the version lock (issue 14).

Seeds a tenant as ``bench.write_throughput`` does (``--people``, ``--days``), writes
one warm-up round, then ``--writes`` clockings: each created, edited (time moved by a
minute) and deleted, by ``ConnectorBackend`` in-process. Every statement SQLAlchemy
sends counts one round trip, ``COMMIT`` one, and on PostgreSQL the late write's lock and
seal (``storage/_seal.py``, two statements sent as one query on the driver connection)
one. "Under the lock": from the statement that locks the tenant's counters to
``COMMIT``, both included; on SQLite ``BEGIN IMMEDIATE`` locks for the whole write.
psycopg's implicit ``BEGIN`` and SQLAlchemy's pool pre-ping (an empty query at each
checkout: two more round trips per write on PostgreSQL, full or bare alike) are not
counted.

    python -m bench.write_statements [--backend sqlite|postgresql|both] [--writes 20]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from chronodelta.server import ConnectorBackend
from chronodelta.storage import _seal

from ._support import BACKENDS, Backend, db_label, migrated_databases, positive
from .write_throughput import seed, workload, write_round

KINDS = ("create", "update", "delete")
LOCK_MARK = "-- the version lock --"


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    """Every round trip of ``engine`` (and of the seal) as it happens."""
    sent: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    def on_commit(_connection: Any) -> None:
        sent.append("COMMIT")

    seal = _seal._two_statements

    def counted_seal(*args: Any) -> Any:
        sent.append(LOCK_MARK)
        return seal(*args)

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    _seal._two_statements = counted_seal  # type: ignore[assignment]
    try:
        yield sent
    finally:
        _seal._two_statements = seal
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


def under_lock(sent: Sequence[str], backend: Backend) -> int:
    if backend == "sqlite":
        return len(sent)
    for index, statement in enumerate(sent):
        locks = "tenant_counters" in statement and "FOR UPDATE" in statement
        if statement == LOCK_MARK or locks:
            return len(sent) - index
    return 0


def measure(backend: Backend, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """Per kind: (round trips, of which under the version lock), averaged."""
    totals = {kind: [0, 0] for kind in KINDS}
    with migrated_databases(backend, ["full"]) as urls:
        print(f"{backend}: seeding", file=sys.stderr)
        engine, tenant_id = seed(urls["full"], args.people, args.days)
        connector = ConnectorBackend(engine)
        warmup, drafts = workload(args.people, 2, max(args.writes, 50))
        write_round(connector, tenant_id, warmup)
        with counting(engine) as sent:
            for draft in drafts[: args.writes]:
                sent.clear()
                created = connector.create_clocking(tenant_id, draft)
                _add(totals["create"], sent, backend)
                edited = replace(draft, time_of_day=min(draft.time_of_day + 1, 2880))
                connector.update_clocking(tenant_id, created["id"], edited, None)
                _add(totals["update"], sent, backend)
                connector.delete_clocking(tenant_id, created["id"], None)
                _add(totals["delete"], sent, backend)
        engine.dispose()
    return {kind: (t[0] / args.writes, t[1] / args.writes) for kind, t in totals.items()}


def _add(total: list[int], sent: list[str], backend: Backend) -> None:
    total[0] += len(sent)
    total[1] += under_lock(sent, backend)
    sent.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.write_statements",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--people", type=positive, default=100)
    parser.add_argument("--days", type=positive, default=30)
    parser.add_argument("--writes", type=positive, default=20)
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    results = {backend: measure(backend, args) for backend in chosen}
    print("Round trips per clocking write (under the version lock in brackets):\n")
    print("| database | " + " | ".join(KINDS) + " |")
    print("|---|" + "---|" * len(KINDS))
    for backend, found in results.items():
        cells = [f"{found[k][0]:.1f} ({found[k][1]:.1f})" for k in KINDS]
        print(f"| {db_label(backend)} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
