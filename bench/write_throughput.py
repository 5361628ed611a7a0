"""Clocking writes per second, with and without recalculation and change tracking (issue 4).

For each back end, two fresh databases with the same tenant (``--people`` people,
``--days`` days of realistic clockings, totals included). One writer (one worker,
in-process, no HTTP) writes the same workload into each, alternating between them
round by round so that both see the same machine load:

* **full**: ``ConnectorBackend(engine)`` as the server runs it: each write locks the
  tenant's counter row, takes change versions, logs departures and commit marks, and
  recalculates the paid presence and activity durations of the person-days it touched,
  all in one transaction.
* **bare**: ``ConnectorBackend(engine, calculate_totals=False)`` with the tenant's
  write transaction replaced by a plain one (ids and versions from in-memory counters,
  no counter row, no commit marks): the same validation, inserts and updates, nothing
  else.

A round writes ``--clockings`` realistic clockings of the days after the seeded ones
(the demo generator's), in order: each is created, then edited (time moved by one
minute), and every fifth is deleted (soft). The report is writes per second for each
mode (median over ``--repeat`` rounds after ``--warmup``) and their ratio (full / bare).

Then (issue 14) the write-scaling table: the same kind of writes over HTTP from 1, 2, 4
and 8 concurrent writers against ``chronodelta serve --workers W`` (``_write_scaling.py``),
each count's rate and its ratio to one writer in the same round.

    python -m bench.write_throughput [--backend sqlite|postgresql|both] [--people 100]
                                     [--days 30] [--clockings 300] [--repeat 5] [--warmup 1]
                                     [--part both|bare|scaling] [--workers 2] [--writes 160]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import ClockingDraft
from chronodelta.server import (
    ConnectorBackend,
    create_tenant,
    insert_clockings,
    insert_reference_data,
)
from chronodelta.server.records import _backend as backend_module
from chronodelta.storage import ReadBack, create_engine, read_back_row

from ._support import BACKENDS, Backend, db_label, migrated_databases, positive
from ._write_scaling import run_scaling, scaling_report

SEEDED_UNTIL = dt.date(2025, 11, 30)
MODES = ("full", "bare")


@dataclass
class UntrackedTransaction:
    """A write transaction without change tracking: what "switched off" means here."""

    connection: sa.Connection
    tenant_id: int
    ids: Iterator[int]
    versions: Iterator[int]

    def next_change_version(self, table: sa.Table | None = None) -> int:
        return next(self.versions)

    def insert_versioned(self, table: sa.Table, rows: list[dict[str, object]]) -> None:
        self.connection.execute(table.insert(), rows)

    def lock_versions(self) -> None:
        pass

    def final_id(self, collection: str, provisional_id: int) -> int:
        return provisional_id

    def seal(self, read_back: ReadBack | None = None) -> tuple[Any, ...] | None:
        """The answer's row, read as a write without change tracking reads it."""
        if read_back is None:
            return None
        return read_back_row(self.connection, self.tenant_id, read_back)

    def allocate_ids(self, collection: str, count: int = 1) -> range:
        first = next(self.ids)
        for _ in range(count - 1):
            next(self.ids)
        return range(first, first + count)


@contextmanager
def untracked(ids: Iterator[int], versions: Iterator[int]) -> Iterator[None]:
    """The backend's write transaction swapped for a plain one, for the bare mode."""

    @contextmanager
    def plain_transaction(engine: Engine, tenant_id: int) -> Iterator[UntrackedTransaction]:
        with engine.begin() as connection:
            yield UntrackedTransaction(connection, tenant_id, ids, versions)

    tracked = getattr(backend_module, "late_write_transaction")  # noqa: B009
    setattr(backend_module, "late_write_transaction", plain_transaction)  # noqa: B010
    try:
        yield
    finally:
        setattr(backend_module, "late_write_transaction", tracked)  # noqa: B010


def seed(url: str, people: int, days: int) -> tuple[Engine, int]:
    engine = create_engine(url)
    tenant_id = create_tenant(engine, "bench").id
    reference = generate_reference_data(people=people, seed=1, today=SEEDED_UNTIL)
    insert_reference_data(engine, tenant_id, reference)
    insert_clockings(
        engine, tenant_id, generate_clockings(reference, days=days, until=SEEDED_UNTIL, seed=1)
    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    return engine, tenant_id


def workload(people: int, rounds: int, per_round: int) -> list[list[ClockingDraft]]:
    """``rounds`` lists of ``per_round`` realistic clockings of the days after the seed."""
    reference = generate_reference_data(people=people, seed=1, today=SEEDED_UNTIL)
    later = generate_clockings(reference, days=60, until=SEEDED_UNTIL + dt.timedelta(60), seed=2)
    drafts = [d for d in later if d.date > SEEDED_UNTIL]
    if len(drafts) < rounds * per_round:
        raise SystemExit(f"only {len(drafts)} clockings for {rounds} x {per_round}; add --people")
    return [drafts[i * per_round : (i + 1) * per_round] for i in range(rounds)]


def write_round(backend: ConnectorBackend, tenant_id: int, drafts: Sequence[ClockingDraft]) -> int:
    """Create, edit and (every fifth) delete each clocking; returns the number of writes."""
    writes = 0
    for index, draft in enumerate(drafts):
        created = backend.create_clocking(tenant_id, draft)
        edited = replace(draft, time_of_day=min(draft.time_of_day + 1, 2880))
        backend.update_clocking(tenant_id, created["id"], edited, None)
        writes += 2
        if index % 5 == 4:
            backend.delete_clocking(tenant_id, created["id"], None)
            writes += 1
    return writes


def run_backend(backend: Backend, args: argparse.Namespace) -> dict[str, list[float]]:
    rounds = args.warmup + args.repeat
    batches = workload(args.people, rounds, args.clockings)
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    bare_ids, bare_versions = itertools.count(10**9), itertools.count(10**12)
    with migrated_databases(backend, list(MODES)) as urls:
        seeded = {}
        for mode in MODES:
            print(f"{backend}: seeding the {mode} database", file=sys.stderr)
            seeded[mode] = seed(urls[mode], args.people, args.days)
        for number, drafts in enumerate(batches):
            for mode in MODES:
                engine, tenant_id = seeded[mode]
                bare = mode == "bare"
                connector = ConnectorBackend(engine, calculate_totals=not bare)
                with untracked(bare_ids, bare_versions) if bare else nullcontext():
                    started = time.perf_counter()
                    writes = write_round(connector, tenant_id, drafts)
                    elapsed = time.perf_counter() - started
                if number >= args.warmup:
                    rates[mode].append(writes / elapsed)
                print(f"{backend} round {number}: {mode} {writes / elapsed:,.0f} writes/s",
                      file=sys.stderr)  # fmt: skip
        for engine, _ in seeded.values():
            engine.dispose()
    return rates


def report(results: dict[Backend, dict[str, list[float]]], args: argparse.Namespace) -> str:
    lines = [
        f"Clocking writes per second, one writer, {args.clockings} clockings per round "
        f"(create + edit, every fifth deleted), median of {args.repeat} rounds:",
        "",
        "| database | full (tracking + totals) | bare | full / bare |",
        "|---|---|---|---|",
    ]
    for backend, rates in results.items():
        full, bare = statistics.median(rates["full"]), statistics.median(rates["bare"])
        lines.append(f"| {db_label(backend)} | {full:,.0f} | {bare:,.0f} | {full / bare:.2f} |")
    per_round = {
        backend: " ".join(f"{f / b:.2f}" for f, b in zip(r["full"], r["bare"], strict=True))
        for backend, r in results.items()
    }
    lines += [
        "",
        "Ratio per round: " + "; ".join(f"{db_label(k)} {v}" for k, v in per_round.items()),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.write_throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--people", type=positive, default=100)
    parser.add_argument("--days", type=positive, default=30)
    parser.add_argument("--clockings", type=positive, default=300)
    parser.add_argument("--repeat", type=positive, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--part", choices=["both", "bare", "scaling"], default="both")
    parser.add_argument("--workers", type=positive, default=2, help="serve --workers (scaling)")
    parser.add_argument("--writes", type=positive, default=160, help="clockings per scaling run")
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    if args.part in ("both", "bare"):
        results = {backend: run_backend(backend, args) for backend in chosen}
        print(report(results, args))
    if args.part in ("both", "scaling"):
        scaling = {backend: run_scaling(backend, args) for backend in chosen}
        print(f"\nClocking writes per second over HTTP (create + edit), serve --workers "
              f"{args.workers}, {args.writes} clockings per run, median of {args.repeat} rounds "
              "(ratio to one writer in the same round):\n")  # fmt: skip
        print("\n".join(scaling_report(scaling, {b: db_label(b) for b in scaling})))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
