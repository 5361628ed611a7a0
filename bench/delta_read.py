"""Delta read cost: a delta costs what changed, not what exists (issue 3).

For each back end, two tenants in two fresh databases: a small one (``--small``
clockings, default 10,000) and a large one (``--large``, default 1,000,000), each
served by its own ``chronodelta serve --workers 1``. On each, the benchmark starts a
delta on clockings (``date ge '<first day>'``, which covers every row), walks the
snapshot pages and then:

1. **One big read.** The servers run with ``CHRONODELTA_DELTA_OVERLAP_SECONDS=10^9``,
   so the first deltaLink's cursor lies before the very first change: its one call
   re-delivers *every* clocking as InsertOrUpdate (1,000,000 changes in the large
   tenant). The benchmark reads it with a streaming client that only counts items
   (``"changeType"`` across chunk boundaries) and never holds the body, while a
   thread samples the server process's RSS (with its children) every 50 ms. It
   reports the RSS just before the read, the peak during it, and records/s.
   The overlap only decides where the *first* deltaLink starts, so every later call
   reads exactly the changes since the previous one, as with the default overlap.
2. **Small reads.** ``--warmup`` + ``--repeat`` rounds, alternating small and large
   tenant: ``--changes`` PUTs (whole record back, ``timeOfDayInMinutes`` moved by one
   minute) on clockings not changed before, then ONE timed ``GET`` of the newest
   deltaLink (until its whole body is in). Each read must return exactly those
   records as InsertOrUpdate, in their new version. The report is the median seconds
   per read for each tenant and their ratio (large / small), also per round, plus
   the server's own time on the delta route (from ``/metrics``).

    python -m bench.delta_read [--backend sqlite|postgresql|both] [--small 10000]
                               [--large 1000000] [--changes 100] [--repeat 5]
                               [--warmup 1] [--page-size 5000]

The servers pin ``CHRONODELTA_TODAY`` to the day after the seeded data (2026-01-01),
so that the delta filter rules (start in the past, not before January 1st of the
previous year) accept the seeded dates whatever the real date. The page size of the
snapshot walk is ``CHRONODELTA_PAGE_SIZE`` (``--page-size``). On PostgreSQL the
tables are ANALYZEd after seeding, as autovacuum would do on a live server. Markdown
goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import psutil
import sqlalchemy as sa

from chronodelta.domain import API_PREFIX, CLOCKINGS, Scope
from chronodelta.storage import create_engine
from chronodelta.testing import ServerProcess

from ._support import (
    BACKENDS,
    SEED_UNTIL,
    Backend,
    BenchmarkError,
    SeededTenant,
    bench_server,
    db_label,
    fetch_token,
    http_client,
    migrated_databases,
    positive,
    seed_clockings,
    server_seconds,
)

SCOPES = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
DELTA_ROUTE = API_PREFIX + "/delta/{collection}"
# The first deltaLink goes back this far (about 31 years): to before the first change.
WHOLE_HISTORY_OVERLAP = 10**9
PINNED_TODAY = SEED_UNTIL + dt.timedelta(days=1)
SAMPLE_SECONDS = 0.05
CHANGE_TYPE = b'"changeType"'
MB = 1024 * 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BigRead:
    """The one delta call that re-delivers every clocking of a tenant."""

    changes: int
    seconds: float
    body_bytes: int
    baseline_rss: int
    peak_rss: int
    after_rss: int
    samples: int

    @property
    def rate(self) -> float:
        return self.changes / self.seconds


@dataclass(frozen=True)
class SmallRead:
    """One timed delta call returning ``--changes`` changes."""

    seconds: float
    server_seconds: float
    body_bytes: int


@dataclass
class Side:
    """One tenant, in its own database, with its own server and delta."""

    label: str
    tenant: SeededTenant
    server: ServerProcess
    http: httpx.Client
    link: str = ""
    # The clockings the small reads will change, as last seen, in the order of use.
    targets: dict[int, dict[str, Any]] = field(default_factory=dict)
    snapshot_seconds: float = 0.0
    big: BigRead | None = None
    reads: list[SmallRead] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.reads)

    @property
    def server_median(self) -> float:
        return statistics.median(r.server_seconds for r in self.reads)


@dataclass(frozen=True)
class Result:
    backend: Backend
    changes: int
    small: Side
    large: Side

    @property
    def ratio(self) -> float:
        return self.large.median / self.small.median

    @property
    def server_ratio(self) -> float:
        return self.large.server_median / self.small.server_median


# --- memory ------------------------------------------------------------------------------


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of ``process`` and its children (uvicorn's workers, if any)."""
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        with suppress(psutil.NoSuchProcess):  # a worker that just ended
            total += child.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's RSS every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0
        self.samples = 0

    def sample(self) -> int:
        rss = tree_rss(self._process)
        self.peak = max(self.peak, rss)
        self.samples += 1
        return rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    @contextmanager
    def running(self) -> Iterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            self.sample()  # the state at the end counts too


# --- the delta walks -----------------------------------------------------------------------


def start_delta(side: Side, wanted: set[int]) -> None:
    """Start a delta over every clocking, walk its snapshot pages, keep the deltaLink.

    Keeps the records whose id is in ``wanted`` (to PUT them back later).
    """
    http, tenant = side.http, side.tenant
    response = http.get(
        CLOCKINGS.path, params={"filter": f"date ge '{tenant.first_date}'", "delta": ""}
    )
    seen = pages = 0
    while True:
        pages += 1
        if response.status_code != 200:
            raise BenchmarkError(
                f"[{side.label}] snapshot page {pages}: {response.status_code} "
                f"{response.text[:500]}"
            )
        body = orjson.loads(response.content)
        for record in body["value"]:
            if record["id"] in wanted:
                side.targets[record["id"]] = record
        seen += len(body["value"])
        if "deltaLink" in body:
            side.link = body["deltaLink"]
            break
        response = http.get(body["nextLink"])
    if seen != tenant.clockings:
        raise BenchmarkError(
            f"[{side.label}] the snapshot had {seen} records, not {tenant.clockings}"
        )
    if len(side.targets) != len(wanted):
        raise BenchmarkError(f"[{side.label}] only {len(side.targets)} of the {len(wanted)} "
                             "clockings to change were in the snapshot")


def read_everything(side: Side) -> BigRead:
    """The first deltaLink's call (every clocking), streamed, counted, RSS sampled."""
    sampler = RssSampler(side.server.pid)
    baseline = sampler.sample()
    sampler.peak = 0  # the peak is of the read only
    changes = body_bytes = 0
    carry = b""
    head = b""
    tail = b""
    keep = len(CHANGE_TYPE) - 1
    with sampler.running():
        started = time.perf_counter()
        with side.http.stream("GET", side.link) as response:
            if response.status_code != 200:
                response.read()
                raise BenchmarkError(
                    f"[{side.label}] big delta read: {response.status_code} {response.text[:500]}"
                )
            for chunk in response.iter_bytes():
                # An item split between two chunks is counted at the seam, once: a
                # match needs len(CHANGE_TYPE) bytes, more than either side keeps.
                changes += (carry + chunk[:keep]).count(CHANGE_TYPE) + chunk.count(CHANGE_TYPE)
                carry = (carry + chunk)[-keep:]
                tail = (tail + chunk)[-8192:]
                if len(head) < 16:
                    head += chunk[:16]
                body_bytes += len(chunk)
        seconds = time.perf_counter() - started
    if not head.startswith(b'{"value":['):
        raise BenchmarkError(f"[{side.label}] big delta read: unexpected body start {head!r}")
    side.link = _delta_link_from_tail(side.label, tail)
    if changes != side.tenant.clockings:
        raise BenchmarkError(
            f"[{side.label}] the big delta read gave {changes} changes, not {side.tenant.clockings}"
        )
    after = tree_rss(psutil.Process(side.server.pid))
    return BigRead(changes, seconds, body_bytes, baseline, sampler.peak, after, sampler.samples)


def _delta_link_from_tail(label: str, tail: bytes) -> str:
    at = tail.rfind(b'"deltaLink":')
    if at < 0:
        raise BenchmarkError(f"[{label}] big delta read: no deltaLink at the end of the body")
    link: str = orjson.loads(b"{" + tail[at:])["deltaLink"]
    return link


def change_some(side: Side, count: int) -> dict[int, str]:
    """PUT ``count`` clockings not changed before (one minute later or earlier).

    Returns their ids with the changeVersion each PUT answered.
    """
    ids = list(side.targets)[:count]
    if len(ids) < count:
        raise BenchmarkError(f"[{side.label}] no clockings left to change")
    changed: dict[int, str] = {}
    for clocking_id in ids:
        record = side.targets.pop(clocking_id)
        minute = record["timeOfDayInMinutes"]
        record["timeOfDayInMinutes"] = minute + 1 if minute < 2880 else minute - 1
        response = side.http.put(f"{CLOCKINGS.path}/{clocking_id}", json=record)
        if response.status_code != 200:
            raise BenchmarkError(
                f"[{side.label}] PUT clocking {clocking_id}: {response.status_code} "
                f"{response.text[:500]}"
            )
        changed[clocking_id] = orjson.loads(response.content)["changeVersion"]
    return changed


def read_changes(side: Side, expected: dict[int, str]) -> SmallRead:
    """ONE timed delta call; it must return exactly ``expected`` as InsertOrUpdate."""
    server_before = server_seconds(side.http, DELTA_ROUTE)
    started = time.perf_counter()
    response = side.http.get(side.link)
    seconds = time.perf_counter() - started
    on_server = server_seconds(side.http, DELTA_ROUTE) - server_before
    if response.status_code != 200:
        raise BenchmarkError(
            f"[{side.label}] delta read: {response.status_code} {response.text[:500]}"
        )
    body = orjson.loads(response.content)
    got = {
        item["data"]["id"]: item["data"]["changeVersion"]
        for item in body["value"]
        if item["changeType"] == "InsertOrUpdate"
    }
    if len(body["value"]) != len(expected) or got != expected:
        raise BenchmarkError(
            f"[{side.label}] the delta read gave {len(body['value'])} changes "
            f"({len(set(got) & set(expected))} of the {len(expected)} expected ones)"
        )
    side.link = body["deltaLink"]
    return SmallRead(seconds, on_server, len(response.content))


# --- one back end --------------------------------------------------------------------------


def analyze(url: str) -> None:
    """PostgreSQL: fresh planner statistics, as autovacuum would have on a live server."""
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


def run_backend(
    backend: Backend, *, small: int, large: int, changes: int, repeat: int, warmup: int,
    page_size: int, seed: int,
) -> Result:
    rounds = warmup + repeat
    if changes * rounds > small:
        raise BenchmarkError(
            f"{rounds} rounds of {changes} changes need more than {small} clockings"
        )
    env = {
        "CHRONODELTA_DELTA_OVERLAP_SECONDS": str(WHOLE_HISTORY_OVERLAP),
        "CHRONODELTA_TODAY": PINNED_TODAY.isoformat(),
    }
    sizes = {"small": small, "large": large}
    with migrated_databases(backend, list(sizes)) as urls, ExitStack() as stack:
        sides: dict[str, Side] = {}
        for label, count in sizes.items():
            started = time.perf_counter()
            tenant = seed_clockings(urls[label], count, scopes=SCOPES)
            if backend == "postgresql":
                analyze(urls[label])
            log(f"[{backend}] {label}: seeded {tenant.clockings:,} clockings "
                f"({tenant.first_date} to {tenant.last_date}) in "
                f"{time.perf_counter() - started:.1f} s")
            server = stack.enter_context(bench_server(urls[label], page_size=page_size, env=env))
            http = stack.enter_context(http_client(server.base_url))
            http.headers["Authorization"] = f"Bearer {fetch_token(http, tenant, SCOPES)}"
            sides[label] = Side(f"{backend} {label}", tenant, server, http)
        for label, side in sides.items():
            # Different clockings each round: every read returns exactly its changes.
            wanted = random.Random(f"{seed}:{label}").sample(
                range(1, side.tenant.clockings + 1), changes * rounds
            )
            started = time.perf_counter()
            start_delta(side, set(wanted))
            side.snapshot_seconds = time.perf_counter() - started
            side.targets = {i: side.targets[i] for i in wanted}  # in the sampled order
            log(f"[{backend}] {label}: snapshot of {side.tenant.clockings:,} walked in "
                f"{side.snapshot_seconds:.1f} s")
            side.big = read_everything(side)
            log(f"[{backend}] {label}: big read of {side.big.changes:,} changes in "
                f"{side.big.seconds:.1f} s ({side.big.rate:,.0f}/s), server RSS "
                f"{side.big.baseline_rss / MB:.0f} MB before, peak {side.big.peak_rss / MB:.0f} MB")
        for run in range(rounds):
            timed = run >= warmup
            figures = []
            for side in sides.values():
                expected = change_some(side, changes)
                read = read_changes(side, expected)
                if timed:
                    side.reads.append(read)
                figures.append(f"{side.label.split()[-1]} {read.seconds * 1000:.1f} ms "
                               f"(server {read.server_seconds * 1000:.1f} ms)")
            label = f"run {run - warmup + 1}/{repeat}" if timed else "warm-up"
            log(f"[{backend}] {label}: " + ", ".join(figures))
        return Result(backend, changes, sides["small"], sides["large"])


# --- report --------------------------------------------------------------------------------


def report(results: Sequence[Result]) -> str:
    lines = [
        "| Back end | Tenant (clockings) | Changes per read | Median delta read (s) "
        "| Server's time (s) | Large / small |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for side in (r.small, r.large):
            ratio = f"**{r.ratio:.2f}** (server {r.server_ratio:.2f})" if side is r.large else ""
            lines.append(
                f"| {db_label(r.backend)} | {side.tenant.clockings:,} | {r.changes} "
                f"| {side.median:.4f} | {side.server_median:.4f} | {ratio} |"
            )
    lines += [
        "",
        "| Back end | Changes in one read | Seconds | Records/s | Body (MB) "
        "| Server RSS before (MB) | Peak server RSS (MB) | Growth (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for side in (r.small, r.large):
            big = side.big
            assert big is not None
            lines.append(
                f"| {db_label(r.backend)} | {big.changes:,} | {big.seconds:.1f} | {big.rate:,.0f} "
                f"| {big.body_bytes / MB:.0f} | {big.baseline_rss / MB:.0f} "
                f"| {big.peak_rss / MB:.0f} | {(big.peak_rss - big.baseline_rss) / MB:.0f} |"
            )
    lines.append("")
    for r in results:
        rounds = ", ".join(
            f"{s.seconds * 1000:.1f}/{b.seconds * 1000:.1f}"
            for s, b in zip(r.small.reads, r.large.reads, strict=True)
        )
        pairs = list(zip(r.small.reads, r.large.reads, strict=True))
        paired = ", ".join(f"{b.seconds / s.seconds:.2f}" for s, b in pairs)
        assert r.large.big is not None
        lines.append(
            f"- {db_label(r.backend)}: small/large delta reads per round {rounds} ms; ratio "
            f"within each round {paired}; {r.large.reads[0].body_bytes:,} body bytes per read. "
            f"Big read: {r.large.big.samples} RSS samples, RSS after it "
            f"{r.large.big.after_rss / MB:.0f} MB. Snapshot walk of the large tenant "
            f"({r.large.tenant.clockings:,} records): {r.large.snapshot_seconds:.1f} s."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.delta_read", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--small", type=positive, default=10_000)
    parser.add_argument("--large", type=positive, default=1_000_000)
    parser.add_argument("--changes", type=positive, default=100)
    parser.add_argument("--repeat", type=positive, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--page-size", type=positive, default=5000,
                        help="the servers' page size for the snapshot walk (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="which clockings get changed")
    args = parser.parse_args(argv)
    backends: list[Backend] = list(BACKENDS) if args.backend == "both" else [args.backend]
    results = [
        run_backend(
            backend, small=args.small, large=args.large, changes=args.changes,
            repeat=args.repeat, warmup=max(args.warmup, 0), page_size=args.page_size,
            seed=args.seed,
        )
        for backend in backends
    ]
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
