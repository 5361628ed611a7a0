"""Writes and delta reads per second under a mixed load, and what the readers cost the
writers (issue 9).

For each back end, one fresh database with tenant ``acme`` (``--people`` people and
``--days`` days of demo clockings up to 2026-01-31, provisioned with the CLI as an
operator does) and three API clients, served by ``chronodelta serve`` on loopback:
SQLite with one worker, PostgreSQL with two. Then ``--warmup`` + ``--repeat`` rounds,
each of two runs of ``chronodelta.testing.run_load`` against that server:

* **mixed**: ``--writers`` writers, each doing ``--writes`` writes (a random mix of
  create, PUT of the whole clocking and soft delete, as in ``tests/load``), while two
  delta pollers (one API client each) follow deltaLinks and one walker lists the
  filtered month (``--page-size`` per page), again and again: each poller once per
  ``--poll-every`` acknowledged writes (default 10), the walker once per ``--walk-every``
  (default 100), paced by counts, not by time; 0 reads back to back, a stress test
  whose ratio mostly shows two cores shared by the server and the load's own threads;
* **alone**: the same writers with nothing else.

The two runs alternate their order round by round, so that both see the same machine
load and the same amount of data. Each run is checked as the tests check it (no 5xx, no
cut or incomplete response, every acknowledged write listed as acknowledged, each delta
mirror equal to the list); a run that fails stops the benchmark instead of reporting.

Reported per back end: writes/s and delta reads/s during the mixed runs (medians over
the timed rounds), p50 and p99 latency of writes and delta reads (every timed request,
response fully read and parsed), writes/s alone, and the ratio mixed / alone (the aim
is at least 0.8), also per round.

    python -m bench.load_mix [--backend sqlite|postgresql|both] [--writes 150]
                             [--writers 4] [--people 20] [--days 31]
                             [--page-size 1000] [--poll-every 10] [--walk-every 100]
                             [--repeat 3] [--warmup 1]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from chronodelta.testing import (
    ApiClient,
    LoadConfig,
    LoadResult,
    RequestKind,
    ServerProcess,
    ThrowawayPostgres,
    describe_exchanges,
    run_load,
)

from ._support import BACKENDS, Backend, BenchmarkError, db_label, positive

TENANT = "acme"
# The seeded days end here; the delta filter rules count from the day after, so that
# its start (the first of the month) lies in the past whatever the real date.
SEED_UNTIL = dt.date(2026, 1, 31)
TODAY = SEED_UNTIL + dt.timedelta(days=1)
MODES = ("mixed", "alone")
WORKERS: dict[Backend, int] = {"sqlite": 1, "postgresql": 2}


# --- a served tenant ------------------------------------------------------------------


def cli(database_url: str, *args: str) -> str:
    """``chronodelta ARGS --database URL`` as a subprocess: the operator's way in."""
    command = [sys.executable, "-m", "chronodelta", *args, "--database", database_url]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchmarkError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def provision(database_url: str, people: int, days: int) -> list[ApiClient]:
    """Tenant ``acme`` with demo data and three API clients (writers, two pollers)."""
    cli(database_url, "db", "upgrade")
    cli(database_url, "tenants", "create", TENANT)
    cli(database_url, "seed", "--tenant", TENANT, "--people", str(people), "--days", str(days),
        "--until", SEED_UNTIL.isoformat())  # fmt: skip
    clients = []
    for _ in range(3):
        created = json.loads(cli(database_url, "clients", "create", "--tenant", TENANT, "--json"))
        clients.append(ApiClient(created["client_id"], created["client_secret"]))
    return clients


@contextmanager
def database(backend: Backend) -> Iterator[str]:
    """An empty database of ``backend`` (a file, or one in a throwaway cluster)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chronodelta-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'load.db'}"
    else:
        with ThrowawayPostgres() as cluster:
            yield cluster.create_database("load")


# --- the runs -------------------------------------------------------------------------


@dataclass
class Figures:
    write_rates: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})
    delta_rates: list[float] = field(default_factory=list)
    write_latencies: list[float] = field(default_factory=list)
    delta_latencies: list[float] = field(default_factory=list)


def check(result: LoadResult, mode: str) -> None:
    """Never report the figures of a run that was served wrongly."""
    problems = []
    if errors := result.server_errors():
        problems.append(f"5xx {describe_exchanges(errors)}")
    if broken := result.broken():
        problems.append(f"broken {describe_exchanges(broken)}")
    problems += result.anomalies + result.state_problems() + result.mirror_problems()
    if problems:
        raise BenchmarkError(f"{mode} run went wrong:\n" + "\n".join(problems[:10]))


def run_round(base: LoadConfig, number: int, figures: Figures | None) -> dict[str, float]:
    """One mixed and one alone run (order alternating); their write rates."""
    rates = {}
    order = MODES if number % 2 == 0 else MODES[::-1]
    for mode in order:
        config = replace(base, readers=mode == "mixed", seed=number)
        result = run_load(config)
        check(result, mode)
        rates[mode] = result.acknowledged_writes / result.write_seconds
        if figures is not None:
            figures.write_rates[mode].append(rates[mode])
        if figures is not None and mode == "mixed":
            figures.delta_rates.append(result.rate(RequestKind.DELTA))
            figures.write_latencies += result.latencies(RequestKind.WRITE)
            figures.delta_latencies += result.latencies(RequestKind.DELTA)
    return rates


def run_backend(backend: Backend, args: argparse.Namespace) -> Figures:
    figures = Figures()
    with database(backend) as url:
        print(f"{backend}: provisioning", file=sys.stderr)
        writer, *pollers = provision(url, args.people, args.days)
        env = {
            "CHRONODELTA_TODAY": TODAY.isoformat(),
            "CHRONODELTA_PAGE_SIZE": str(args.page_size),
            "CHRONODELTA_DELTA_OVERLAP_SECONDS": str(args.overlap),
            # Every run's sessions take new tokens: many rounds a minute pass the default 60.
            "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
        }
        workers = ["--workers", str(WORKERS[backend])]
        with ServerProcess(url, args=workers, env=env) as server:
            base = LoadConfig(
                base_url=server.base_url,
                tenant=TENANT,
                writer_client=writer,
                poller_clients=pollers,
                first_day=SEED_UNTIL.replace(day=1),
                last_day=SEED_UNTIL,
                writers=args.writers,
                writes_per_writer=args.writes,
                poll_every_writes=args.poll_every,
                walk_every_writes=args.walk_every,
            )
            for number in range(args.warmup + args.repeat):
                timed = number >= args.warmup
                rates = run_round(base, number, figures if timed else None)
                print(f"{backend} round {number}: mixed {rates['mixed']:,.0f}, alone "
                      f"{rates['alone']:,.0f} writes/s", file=sys.stderr)  # fmt: skip
    return figures


# --- the report -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def spread(seconds: Sequence[float]) -> str:
    """p50 / p99 in milliseconds."""
    return f"{percentile(seconds, 50) * 1000:.1f} / {percentile(seconds, 99) * 1000:.1f}"


def report(results: dict[Backend, Figures], args: argparse.Namespace) -> str:
    def pace(every: int) -> str:
        return f"once per {every} writes" if every else "back to back"

    lines = [
        f"Mixed load: {args.writers} writers x {args.writes} writes; 2 delta pollers "
        f"({pace(args.poll_every)}), 1 list walker ({pace(args.walk_every)}, page size "
        f"{args.page_size}); medians of {args.repeat} rounds, latencies over every timed "
        "request:",
        "",
        "| database | workers | writes/s | write p50 / p99 (ms) | delta reads/s "
        "| delta p50 / p99 (ms) | writes/s alone | mixed / alone |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, f in results.items():
        mixed = statistics.median(f.write_rates["mixed"])
        alone = statistics.median(f.write_rates["alone"])
        writes, deltas = spread(f.write_latencies), spread(f.delta_latencies)
        lines.append(
            f"| {db_label(backend)} | {WORKERS[backend]} | {mixed:,.0f} | {writes} "
            f"| {statistics.median(f.delta_rates):,.0f} | {deltas} "
            f"| {alone:,.0f} | **{mixed / alone:.2f}** |"
        )
    per_round = {
        backend: " ".join(
            f"{m / a:.2f}"
            for m, a in zip(f.write_rates["mixed"], f.write_rates["alone"], strict=True)
        )
        for backend, f in results.items()
    }
    ratios = "; ".join(f"{db_label(k)} {v}" for k, v in per_round.items())
    return "\n".join([*lines, "", f"Ratio mixed / alone per round: {ratios}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load_mix",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--writes", type=positive, default=150, help="writes per writer")
    parser.add_argument("--writers", type=positive, default=4)
    parser.add_argument("--people", type=positive, default=20)
    parser.add_argument("--days", type=positive, default=31)
    parser.add_argument("--page-size", type=positive, default=1000)
    parser.add_argument("--poll-every", type=int, default=10, metavar="WRITES",
                        help="each poller follows its deltaLink once per WRITES acknowledged "
                        "writes (0: back to back)")  # fmt: skip
    parser.add_argument("--walk-every", type=int, default=100, metavar="WRITES",
                        help="the walker lists once per WRITES acknowledged writes "
                        "(0: back to back)")  # fmt: skip
    parser.add_argument("--overlap", type=int, default=300, metavar="SECONDS",
                        help="the server's delta overlap window (the vendor's: 300; 0: a "
                        "new delta's first call does not re-deliver earlier rounds' writes)")
    parser.add_argument("--repeat", type=positive, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    results = {backend: run_backend(backend, args) for backend in chosen}
    print(report(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
