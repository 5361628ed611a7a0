"""The reference facts' signature (``records/_reference_facts.py``) by tenant size.

Every clocking write runs this one query to revalidate its worker's cached reference
facts. For each back end and each ``--people`` size: a fresh database seeded as
``bench.write_throughput`` seeds it (``--days`` days of clockings), then ``--rounds``
rounds of ``--runs`` signatures on one connection, timed against the signature this
project used before (the same newest change versions plus each table's row count, which
scanned the tenant's rows), alternating. The report is the fastest round of each, in
milliseconds per signature.

    python -m bench.reference_signature [--backend sqlite|postgresql|both]
                                        [--people 100 5000] [--runs 300] [--rounds 3]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from chronodelta.server.records import _reference_facts

from ._support import BACKENDS, Backend, db_label, migrated_database, positive
from .write_throughput import seed


def counting_signature() -> sa.Select[Any]:
    """The signature as it was: newest change version and row count of each table."""
    columns = []
    for table in _reference_facts._SOURCES:
        of_tenant = table.c.tenant_id == sa.bindparam("tenant")
        columns.append(sa.select(sa.func.max(table.c.change_version)).where(of_tenant))
        columns.append(sa.select(sa.func.count()).select_from(table).where(of_tenant))
    return sa.select(*(c.scalar_subquery() for c in columns))


def timed(connection: sa.Connection, query: sa.Select[Any], tenant_id: int, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        connection.execute(query, {"tenant": tenant_id}).one()
    return (time.perf_counter() - started) / runs * 1000


def measure(backend: Backend, people: int, args: argparse.Namespace) -> tuple[float, float]:
    """(counting, seeking): the fastest round's milliseconds per signature."""
    queries = (counting_signature(), _reference_facts._SIGNATURE)
    best = [float("inf"), float("inf")]
    with migrated_database(backend) as url:
        print(f"{backend}: seeding {people} people", file=sys.stderr, flush=True)
        engine, tenant_id = seed(url, people, args.days)
        with engine.connect() as connection:
            for _ in range(args.rounds):
                for index, query in enumerate(queries):
                    best[index] = min(best[index], timed(connection, query, tenant_id, args.runs))
        engine.dispose()
    return best[0], best[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reference_signature",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--people", type=positive, nargs="+", default=[100, 5000])
    parser.add_argument("--days", type=positive, default=1)
    parser.add_argument("--runs", type=positive, default=300)
    parser.add_argument("--rounds", type=positive, default=3)
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    print("Milliseconds per signature (fastest round):\n")
    print("| database | people | with row counts (before) | newest versions only (now) |")
    print("|---|---:|---:|---:|")
    for backend in chosen:
        for people in args.people:
            counting, seeking = measure(backend, people, args)
            print(f"| {db_label(backend)} | {people:,} | {counting:.3f} | {seeking:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
