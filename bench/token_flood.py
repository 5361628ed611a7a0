"""What a flood of made-up client ids at the token endpoint costs everyone else (issue 10,
item 2).

For each back end, a fresh database with tenant ``bench`` (``--clockings`` realistic
clockings and a read-only client), served by ``chronodelta serve --workers 1``
(``CHRONODELTA_PAGE_SIZE=--page-size``). A *list* is one ``GET /clockings`` with a filter
that selects every clocking, its first page only, read whole and parsed: a normal
request of an integration. Then ``--repeat`` rounds, each of two phases in alternating
order:

* **alone**: ``--lists`` lists one after the other, nothing else;
* **flood**: the same, while ``--flooders`` concurrent callers (another process, one
  asyncio loop) post token requests with made-up client ids back to back.

Three floods, each against its own server:

* **one source**: every flooder calls from 127.0.0.1, with the server's default limits,
  as one attacker's machine would;
* **many sources**: each flooder from its own loopback address (127.0.1.N) and the
  per-source failure limit raised out of reach, so that every request is verified: a
  flood from more addresses than the limit covers, where only the per-worker bound on
  argon2 work (``CHRONODELTA_TOKEN_VERIFY_CONCURRENCY``) protects;
* **control**: the same callers on ``GET /healthz`` (one read transaction, as a refused
  token request costs once its source is over the limit): what any 40 callers back to
  back cost a one-worker server on this machine, the floor for the floods above.

Reported per back end and flood: the lists' p50 and p99 latency alone and in the flood
(every timed list of every round), their ratio (the aim: at most 5), the worker's peak
memory (``VmHWM`` in ``/proc/<pid>/status``, its high-water mark, read before the first
flood and after the last; the aim: under 100 MB of growth), and the flood's answers
(requests per second and status codes).

To measure other code with the same driver (say the commit before a change, checked out
with ``git worktree add /tmp/old HEAD``), put its ``src`` first on ``PYTHONPATH``: the
seeding and the server then both run it.

    python -m bench.token_flood [--backend sqlite|postgresql|both] [--clockings 1000]
                                [--page-size 100] [--lists 200] [--flooders 40]
                                [--repeat 3]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Literal

import httpx
import orjson

from chronodelta.domain import Scope
from chronodelta.testing import ServerProcess

from ._support import (
    BACKENDS,
    USER_AGENT,
    Backend,
    BenchmarkError,
    SeededTenant,
    bench_server,
    db_label,
    fetch_token,
    http_client,
    migrated_database,
    positive,
    seed_clockings,
)

Flood = Literal["one source", "many sources", "control"]
FLOODS: tuple[Flood, ...] = ("one source", "many sources", "control")
LIST_PATH = "/connector/protimeapi/api/v1/clockings"
MB = 1024 * 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the flood (a process of its own, so that its work does not time the lists) ----------


def flood_process(
    base_url: str, flooders: int, kind: Flood, started: Event, stop: Event, out: str
) -> None:
    """Flood until ``stop``; write the status counts to ``out``."""
    statuses = asyncio.run(_flood(base_url, flooders, kind, started, stop))
    Path(out).write_bytes(orjson.dumps({str(k): v for k, v in statuses.items()}))


async def _flood(
    base_url: str, flooders: int, kind: Flood, started: Event, stop: Event
) -> Counter[int]:
    statuses: Counter[int] = Counter()

    async def flooder(number: int) -> None:
        source = f"127.0.1.{number + 1}" if kind == "many sources" else "127.0.0.1"
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(
            base_url=base_url, headers={"User-Agent": USER_AGENT}, transport=transport, timeout=60
        ) as http:
            while not stop.is_set():
                response = await (http.get("/healthz") if kind == "control" else guess(http))
                statuses[response.status_code] += 1
                started.set()

    await asyncio.gather(*(flooder(n) for n in range(flooders)))
    return statuses


async def guess(http: httpx.AsyncClient) -> httpx.Response:
    """A token request with a made-up client id."""
    return await http.post(
        "/tenants/bench/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": f"cd-{uuid.uuid4().hex[:20]}",
            "client_secret": "a guess",
        },
    )


@dataclass
class Flooding:
    """A running flood; ``stop()`` ends it and returns its answers per status code."""

    process: multiprocessing.process.BaseProcess
    stop_event: Event
    out: Path
    started_at: float

    def stop(self) -> tuple[Counter[int], float]:
        self.stop_event.set()
        self.process.join(timeout=120)
        seconds = time.perf_counter() - self.started_at
        if self.process.exitcode != 0:
            raise BenchmarkError(f"the flood process failed (exit code {self.process.exitcode})")
        counts = orjson.loads(self.out.read_bytes())
        return Counter({int(k): int(v) for k, v in counts.items()}), seconds


def start_flood(server: ServerProcess, flooders: int, kind: Flood, out: Path) -> Flooding:
    context = multiprocessing.get_context("spawn")
    started, stop = context.Event(), context.Event()
    process = context.Process(
        target=flood_process,
        args=(server.base_url, flooders, kind, started, stop, str(out)),
    )
    process.start()
    if not started.wait(120):  # the first answer: the flood is on
        stop.set()
        process.join()
        raise BenchmarkError("the flood never got an answer")
    return Flooding(process, stop, out, time.perf_counter())


# --- the measured lists --------------------------------------------------------------------


def timed_lists(http: httpx.Client, tenant: SeededTenant, count: int) -> list[float]:
    """The seconds each of ``count`` lists took, response read and parsed."""
    params = {"filter": tenant.clockings_filter}
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = http.get(LIST_PATH, params=params)
        body = orjson.loads(response.content)
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200 or not body["value"]:
            raise BenchmarkError(f"a list answered {response.status_code}: {response.text[:200]}")
    return seconds


def peak_rss(pid: int) -> int:
    """``VmHWM`` of process ``pid``, in bytes: its resident memory's high-water mark."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    if found is None:
        raise BenchmarkError(f"no VmHWM for process {pid}")
    return int(found.group(1)) * 1024


@dataclass
class Figures:
    alone: list[float] = field(default_factory=list)
    flooded: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # p50 flood / alone, per round
    rss_before: int = 0
    rss_after: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    flood_seconds: float = 0.0

    def add(
        self, alone: list[float], flooded: list[float], statuses: Counter[int], seconds: float
    ) -> None:
        """One round's lists and flood."""
        self.alone += alone
        self.flooded += flooded
        self.ratios.append(percentile(flooded, 50) / percentile(alone, 50))
        self.statuses += statuses
        self.flood_seconds += seconds


def run_flood(
    url: str, tenant: SeededTenant, kind: Flood, args: argparse.Namespace, scratch: Path
) -> Figures:
    """One server, ``--repeat`` rounds of lists alone and in a ``kind`` flood."""
    env = {"CHRONODELTA_TOKEN_FAILURES_PER_MINUTE": str(10**9)} if kind == "many sources" else {}
    figures = Figures()
    with bench_server(url, page_size=args.page_size, env=env) as server, http_client(
        server.base_url
    ) as http:  # fmt: skip
        token = fetch_token(http, tenant, [Scope.CLOCKINGS_READ])
        http.headers["Authorization"] = f"Bearer {token}"
        timed_lists(http, tenant, args.lists)  # warm-up
        figures.rss_before = peak_rss(server.pid)
        for number in range(args.repeat):
            # Alternating the order, so that both phases see the same machine load.
            flood_first = number % 2 == 1
            alone = [] if flood_first else timed_lists(http, tenant, args.lists)
            flooding = start_flood(server, args.flooders, kind, scratch / f"flood-{number}.json")
            flooded = timed_lists(http, tenant, args.lists)
            statuses, seconds = flooding.stop()
            alone = alone or timed_lists(http, tenant, args.lists)
            figures.add(alone, flooded, statuses, seconds)
            log(f"{kind} round {number}: list p50 / p99 {spread(alone)} ms alone, "
                f"{spread(flooded)} ms flooded; {dict(statuses)}")  # fmt: skip
        figures.rss_after = peak_rss(server.pid)
    if any(status >= 500 for status in figures.statuses):
        raise BenchmarkError(f"the flood got server errors: {dict(figures.statuses)}")
    return figures


def run_backend(backend: Backend, args: argparse.Namespace) -> dict[Flood, Figures]:
    with (
        migrated_database(backend) as url,
        tempfile.TemporaryDirectory(prefix="chronodelta-flood-") as scratch,
    ):
        log(f"{backend}: seeding {args.clockings} clockings")
        tenant = seed_clockings(url, args.clockings)
        return {kind: run_flood(url, tenant, kind, args, Path(scratch)) for kind in FLOODS}


# --- the report -------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def spread(seconds: Sequence[float]) -> str:
    return f"{percentile(seconds, 50) * 1000:.1f} / {percentile(seconds, 99) * 1000:.1f}"


def report(results: dict[Backend, dict[Flood, Figures]], args: argparse.Namespace) -> str:
    lines = [
        f"Token flood: {args.flooders} callers back to back (made-up client ids; control: "
        f"/healthz); "
        f"{args.lists} lists per phase ({args.clockings} clockings, first page of "
        f"{args.page_size}), {args.repeat} rounds:",
        "",
        "| database | flood | list p50 / p99 alone (ms) | in the flood (ms) | p50 ratio "
        "| p99 ratio | worker peak before → after (MiB) | flood answers |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for backend, floods in results.items():
        for kind, f in floods.items():
            p50 = percentile(f.flooded, 50) / percentile(f.alone, 50)
            p99 = percentile(f.flooded, 99) / percentile(f.alone, 99)
            rate = sum(f.statuses.values()) / f.flood_seconds
            answers = ", ".join(f"{n:,} × {s}" for s, n in sorted(f.statuses.items()))
            lines.append(
                f"| {db_label(backend)} | {kind} | {spread(f.alone)} | {spread(f.flooded)} "
                f"| **{p50:.1f}** | {p99:.1f} | {f.rss_before / MB:.0f} → {f.rss_after / MB:.0f} "
                f"(+{(f.rss_after - f.rss_before) / MB:.0f}) | {rate:,.0f}/s: {answers} |"
            )
    per_round = [
        f"{db_label(b)} {kind} " + " ".join(f"{r:.1f}" for r in f.ratios)
        for b, floods in results.items()
        for kind, f in floods.items()
    ]
    lines += ["", "p50 ratio per round: " + "; ".join(per_round)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.token_flood",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="sqlite")
    parser.add_argument("--clockings", type=positive, default=1000)
    parser.add_argument("--page-size", type=positive, default=100)
    parser.add_argument("--lists", type=positive, default=200, help="timed lists per phase")
    parser.add_argument("--flooders", type=positive, default=40)
    parser.add_argument("--repeat", type=positive, default=3)
    args = parser.parse_args(argv)
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    results = {backend: run_backend(backend, args) for backend in chosen}
    print(report(results, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
