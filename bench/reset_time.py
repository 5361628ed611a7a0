"""How long ``chronodelta tenants reset`` takes on the demo tenant (issue 13, item 4:
"restores the tenant's seeded state ... in seconds").

The demo tenant is what ``serve --demo`` makes: 25 people, 60 days, seed 1 (about
3,760 clockings and 2,170 totals). Each round leaves the tenant in one of three states
and times ``reset_tenant`` (the library call the CLI and the admin API make), then
checks that the state is exactly the seeded one again:

* ``few writes``: 20 clockings added through the writes' own path (totals included),
  the usual state after an integration's test run;
* ``all changed``: every clocking changed (3,760 records rewritten by the reset);
* ``emptied``: every clocking, total, membership and circle gone (about 5,900 records
  written back).

It also times ``snapshot_tenant`` and one ``chronodelta tenants reset`` as a command
(process start and imports included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench._support import BACKENDS, Backend, BenchmarkError, db_label, migrated_database, positive
from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.server import (
    create_tenant,
    insert_clockings,
    reset_tenant,
    seed_tenant,
    snapshot_tenant,
    tenant_id,
)
from chronodelta.server.snapshots._state import STATE_TABLES, read_state
from chronodelta.storage import create_engine, read_transaction, tables, write_transaction

DEMO = {"people": 25, "days": 60, "seed": 1, "until": dt.date(2026, 12, 1)}


def few_writes(engine: Engine, owner: int) -> None:
    reference = generate_reference_data(people=25, seed=99, today=dt.date(2027, 1, 10))
    drafts = generate_clockings(reference, days=7, until=dt.date(2027, 1, 10), seed=99)
    insert_clockings(engine, owner, (d for _, d in zip(range(20), drafts, strict=False)))


def all_changed(engine: Engine, owner: int) -> None:
    """Every clocking a minute later, each with a new version (as writes give them)."""
    clockings = tables.clockings
    with write_transaction(engine, owner) as tx:
        ids = tx.connection.scalars(
            sa.select(clockings.c.id).where(clockings.c.tenant_id == owner)
        ).all()
        tx.connection.execute(
            clockings.update()
            .where(clockings.c.tenant_id == owner, clockings.c.id == sa.bindparam("b_id"))
            .values(
                time_of_day=clockings.c.time_of_day + 1,
                change_version=sa.bindparam("b_version"),
            ),
            [{"b_id": i, "b_version": tx.next_change_version()} for i in ids],
        )


def emptied(engine: Engine, owner: int) -> None:
    with write_transaction(engine, owner) as tx:
        tx.next_change_version()
        for name in ("external_references", "circle_members", "circles", "org_group_members"):
            table = STATE_TABLES[name]
            tx.connection.execute(table.delete().where(table.c.tenant_id == owner))
        for table in (*tables.TOTAL_TABLES.values(), tables.clockings):
            tx.connection.execute(table.delete().where(table.c.tenant_id == owner))


SCENARIOS: dict[str, Callable[[Engine, int], None]] = {
    "few writes": few_writes,
    "all changed": all_changed,
    "emptied": emptied,
}


def run_backend(backend: Backend, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in [*SCENARIOS, "snapshot", "command"]}
    with migrated_database(backend) as url:
        engine = create_engine(url)
        create_tenant(engine, "acme")
        seed_tenant(engine, "acme", **DEMO)  # type: ignore[arg-type]
        owner = tenant_id(engine, "acme")
        seeded = _state(engine, owner)
        for number in range(repeat):
            for name, scenario in SCENARIOS.items():
                scenario(engine, owner)
                started = time.perf_counter()
                result = reset_tenant(engine, "acme")
                times[name].append(time.perf_counter() - started)
                if result.versions is None:
                    raise BenchmarkError(f"{name}: the scenario changed nothing")
                if _state(engine, owner) != seeded:
                    raise BenchmarkError(f"{name}: the reset did not restore the seeded state")
                print(f"{backend} round {number}: {name} {times[name][-1]:.3f} s {result}",
                      file=sys.stderr)  # fmt: skip
            started = time.perf_counter()
            snapshot_tenant(engine, "acme", f"round-{number}")
            times["snapshot"].append(time.perf_counter() - started)
        all_changed(engine, owner)
        command = [sys.executable, "-m", "chronodelta", "tenants", "reset", "acme"]
        started = time.perf_counter()
        subprocess.run([*command, "--database", url], check=True, capture_output=True)
        times["command"].append(time.perf_counter() - started)
        if _state(engine, owner) != seeded:
            raise BenchmarkError("the command did not restore the seeded state")
        engine.dispose()
    return times


def _state(engine: Engine, owner: int) -> object:
    with read_transaction(engine, snapshot=True) as connection:
        return read_state(connection, owner)


def report(results: dict[Backend, dict[str, list[float]]], repeat: int) -> str:
    columns = [*SCENARIOS, "snapshot", "command"]
    lines = [
        f"Seconds, demo tenant (25 people, 60 days), median of {repeat} rounds "
        "(the command: one run, process start included):",
        "",
        "| database | "
        + " | ".join(f"reset: {c}" if c in SCENARIOS else c for c in columns)
        + " |",
        "|---|" + "---|" * len(columns),
    ]
    for backend, times in results.items():
        cells = [f"{statistics.median(times[c]):.3f}" for c in columns]
        lines.append(f"| {db_label(backend)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reset_time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--repeat", type=positive, default=5)
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    results = {backend: run_backend(backend, args.repeat) for backend in chosen}
    print(report(results, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
