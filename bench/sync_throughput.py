"""Initial sync throughput: ``chronodelta sync clockings`` from a local server into SQLite.

Seeds a fresh SQLite database with exactly ``--records`` realistic clockings (default
1,000,000; the demo generator as in ``_support.seed_clockings``, but with
``insert_clockings(..., calculate=False)``: the sync reads clockings only, so the
totals are not needed), serves it with ``chronodelta serve --workers 1``
(``CHRONODELTA_PAGE_SIZE=--page-size``), then runs the real command as a subprocess::

    chronodelta sync clockings --since <first day> --target sqlite:///<tmp>/mirror.db

and samples its peak RSS: ``VmHWM`` in ``/proc/<pid>/status``, the high-water mark of
its own address space, read every 20 ms until it exits (the mark only rises, so a
sample taken after the peak holds it exactly). Not ``ru_maxrss`` from ``wait4``: Python
starts a child with vfork, and at exec Linux records the high-water mark of the
address space the child leaves, the benchmark's own (it holds the seeded data), as
the child's. It reports the records per second of the whole command (process
start to exit: imports, token, snapshot walk, sweep, first delta call) and of the
snapshot walk alone (from its own log line), and checks that the mirror holds exactly
``--records`` clockings with distinct ids.

Before the sync, against the same server, a *plain walk* starts a delta and follows
its snapshot's nextLinks with one keep-alive httpx client, decoding each page with
orjson and storing nothing: what a client gets from the server with no work of its
own. The sync's snapshot rate over the plain walk's, measured in the same run, says
how close the mirror comes to that limit on this machine.

The server runs with ``CHRONODELTA_DELTA_OVERLAP_SECONDS=0``: the rows were written
seconds before the delta starts, so with the default 5-minute overlap the first
deltaLink call would re-deliver all of them in one response (as the vendor's would);
a real initial sync does not start minutes after a million writes. ``CHRONODELTA_TODAY``
is pinned to the day after the seeded data, so the delta date rules hold.

    python -m bench.sync_throughput [--records 1000000] [--page-size 5000]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import API_PREFIX, ClockingDraft, Scope
from chronodelta.server import create_client, create_tenant, insert_clockings, insert_reference_data
from chronodelta.storage import create_engine

from ._support import (
    CLOCKINGS_PER_PERSON,
    SEED_MAX_DAYS,
    SEED_UNTIL,
    BenchmarkError,
    bench_server,
    check_ids,
    http_client,
    migrated_database,
    positive,
)

MB = 1024 * 1024
SNAPSHOT_LINE = re.compile(r"snapshot complete, ([\d,]+) records \((\d+)/s\)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Seeded:
    client_id: str
    client_secret: str
    count: int
    first_date: dt.date


def seed(url: str, count: int) -> Seeded:
    """Tenant ``bench``, a clockings.read client and exactly ``count`` clockings."""
    people = math.ceil(count / CLOCKINGS_PER_PERSON)
    engine = create_engine(url)
    try:
        info = create_tenant(engine, "bench")
        client = create_client(engine, "bench", (Scope.CLOCKINGS_READ,), description="bench")
        reference = generate_reference_data(people=people, seed=1, today=SEED_UNTIL)
        insert_reference_data(engine, info.id, reference)
        drafts = generate_clockings(reference, days=SEED_MAX_DAYS, until=SEED_UNTIL, seed=1)
        first: list[dt.date] = []

        def tracked() -> Iterator[ClockingDraft]:
            for draft in itertools.islice(drafts, count):
                if not first:
                    first.append(draft.date)
                yield draft

        inserted = insert_clockings(engine, info.id, tracked(), calculate=False)
    finally:
        engine.dispose()
    if inserted != count:
        raise BenchmarkError(f"the generator gave {inserted} clockings, not {count}")
    return Seeded(client.client_id, client.client_secret, inserted, first[0])


@dataclass(frozen=True)
class Result:
    records: int
    page_size: int
    seconds: float
    snapshot_rate: int
    peak_rss: int
    plain_walk_rate: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


class PeakRss:
    """The peak RSS of a running process, from its ``VmHWM`` (see the module docstring)."""

    def __init__(self, pid: int) -> None:
        self.bytes = 0
        self.samples = 0
        self._path = Path(f"/proc/{pid}/status")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.02):  # a sampling period, not a synchronization
            try:
                status = self._path.read_text()
            except OSError:
                return  # reaped
            found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
            if found is None:
                continue  # a zombie has no address space left, or not exec'd yet
            self.bytes = max(self.bytes, int(found.group(1)) * 1024)
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def plain_walk(base_url: str, seeded: Seeded) -> float:
    """Records per second of a delta snapshot walk that only decodes the pages."""
    with http_client(base_url) as http:
        response = http.post(
            "/tenants/bench/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": seeded.client_id,
                "client_secret": seeded.client_secret,
            },
        )
        headers = {"Authorization": f"Bearer {orjson.loads(response.content)['access_token']}"}
        link: str | None = (
            f"{API_PREFIX}/clockings?filter=date ge '{seeded.first_date.isoformat()}'&delta"
        )
        ids: list[int] = []
        started = time.perf_counter()
        while link is not None:
            page = http.get(link, headers=headers)
            if page.status_code != 200:
                raise BenchmarkError(f"the plain walk got {page.status_code}: {page.text[:300]}")
            body = orjson.loads(page.content)
            ids.extend(record["id"] for record in body["value"])
            link = body.get("nextLink")
        seconds = time.perf_counter() - started
    check_ids(ids, seeded.count, "the plain walk")
    return seeded.count / seconds


def run(records: int, page_size: int) -> Result:
    env = {
        "CHRONODELTA_DELTA_OVERLAP_SECONDS": "0",
        "CHRONODELTA_TODAY": (SEED_UNTIL + dt.timedelta(days=1)).isoformat(),
    }
    with migrated_database("sqlite") as url, tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        seeded = seed(url, records)
        log(
            f"seeded {seeded.count:,} clockings from {seeded.first_date} in "
            f"{time.perf_counter() - started:.1f} s"
        )
        with bench_server(url, page_size=page_size, env=env) as server:
            walk_rate = plain_walk(server.base_url, seeded)
            log(f"plain walk: {walk_rate:,.0f} records/s")
            mirror = Path(directory) / "mirror.db"
            command = [
                sys.executable,
                "-m",
                "chronodelta",
                "sync",
                "clockings",
                "--since",
                seeded.first_date.isoformat(),
                "--target",
                f"sqlite:///{mirror}",
            ]
            sync_env = {
                **os.environ,
                "CHRONODELTA_BASE_URL": server.base_url,
                "CHRONODELTA_TENANT": "bench",
                "CHRONODELTA_CLIENT_ID": seeded.client_id,
                "CHRONODELTA_CLIENT_SECRET": seeded.client_secret,
            }
            started = time.perf_counter()
            process = subprocess.Popen(
                command, env=sync_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            peak = PeakRss(process.pid)
            assert process.stdout is not None
            output = process.stdout.read()
            _, status, _usage = os.wait4(process.pid, 0)
            peak.stop()
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise BenchmarkError(f"the sync failed ({process.returncode}):\n{output[-3000:]}")
        found = SNAPSHOT_LINE.search(output)
        if found is None:
            raise BenchmarkError(f"no snapshot line in the sync's output:\n{output[-3000:]}")
        engine = create_engine(f"sqlite:///{mirror}")
        try:
            with engine.connect() as connection:
                rows, distinct = connection.execute(
                    sa.text("SELECT count(*), count(DISTINCT id) FROM clockings")
                ).one()
        finally:
            engine.dispose()
        if rows != records or distinct != records:
            raise BenchmarkError(f"the mirror has {rows} rows ({distinct} ids), not {records}")
        if peak.samples < 10:
            raise BenchmarkError(f"only {peak.samples} RSS samples of the sync were taken")
        snapshot_rate = int(found.group(2))
        return Result(records, page_size, seconds, snapshot_rate, peak.bytes, walk_rate)


def report(result: Result) -> str:
    return "\n".join(
        [
            "| Records | Page size | Whole command (s) | Records/s (whole command) "
            "| Records/s (sync's snapshot walk) | Records/s (plain walk) "
            "| Sync snapshot / plain walk | Peak RSS of the sync (MB) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {result.records:,} | {result.page_size:,} | {result.seconds:.1f} "
            f"| {result.rate:,.0f} | {result.snapshot_rate:,} | {result.plain_walk_rate:,.0f} "
            f"| {result.snapshot_rate / result.plain_walk_rate:.2f} "
            f"| {result.peak_rss / MB:.0f} |",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=positive, default=1_000_000)
    parser.add_argument("--page-size", type=positive, default=5000)
    args = parser.parse_args(argv)
    result = run(args.records, args.page_size)
    log(
        f"synced {result.records:,} in {result.seconds:.1f} s ({result.rate:,.0f}/s), "
        f"peak RSS {result.peak_rss / MB:.0f} MB"
    )
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
