"""Pages at the hardware's pace (issue 14, item 2): a list walk and a streamed delta over
HTTP against the ceiling script, as ratios measured in the same run.

For each back end: a fresh database with exactly ``--records`` clockings (within one
year, so one list filter selects them all) served by ``chronodelta serve --workers 1``
(``CHRONODELTA_PAGE_SIZE=--page-size``), and a table of ``--records`` rows made by the
ceiling's ``make_data.py``. Then, after ``--warmup`` untimed rounds, ``--repeat``
rounds of three measurements, one after the other:

* **ceiling**: ``ceiling.py`` (in ``--ceiling-dir``, the team's shared reference
  script, run as its own process) reads every row in keyset pages with ``sqlite3``
  and writes each page with ``orjson``: no HTTP and no parsing, an upper bound;
* **list walk**: one keep-alive ``httpx.Client`` follows ``nextLink`` from
  ``GET .../clockings?filter=...`` until there is none and parses each body with
  ``orjson.loads``, as a real client would;
* **streamed delta**: the same client reads the first deltaLink of a delta over every
  clocking and parses its whole body with ``orjson.loads``. The server runs with an
  overlap of about 31 years (``CHRONODELTA_DELTA_OVERLAP_SECONDS``), so that one call
  re-delivers every clocking: ``--records`` changes in one response, read again in
  every round (a replayed link answers the same changes).

Then the **client floor**: the same client GETs the first list page's bytes as often as
the walk has pages from a server that does nothing else (``_static_page.py``) and
parses them the same way. Its rate is what this client reaches against a server that
costs nothing: the most any server could give it. Last, the list walk once more, from
a second server on the same database with ``CHRONODELTA_PAGE_READ_AHEAD=false`` (every
page read at request time): what the read-ahead (``server/records/_read_ahead.py``)
is worth.

Two more, that say what bounds the two above. The **stack floor**: the same list walk
from a third server that keeps every page once built (``_free_pages.py``), so that a
request costs only its path (uvicorn, the middleware, FastAPI, the token and the
tenant's per-request reads): what any speed-up of building pages could give at most.
The **SDK delta**: the same deltaLink read through the SDK's ``stream_delta`` (the raw
view, as ``chronodelta sync`` reads it), which parses the body while it arrives
instead of after it (``client/_stream.py``). The warm-up round fills the stack
floor's kept pages and fetches the SDK's token, so run at least one.

Each walk must give exactly ``--records`` distinct ids. The report (Markdown on
stdout; progress on stderr) is the median rate of each, the ratios list / ceiling and
delta / ceiling (of the medians and within each round), the load average around the
run, and how the HTTP time splits: the server's own time on the route (its request
middleware, from ``/metrics``), the client's parsing, and the rest (uvicorn, httpx,
the socket).

The client freezes its own heap first (``gc.freeze()``; the server does too): this
process also holds the code that seeded the data, which a client would not.

**CPU ratios.** On a shared machine under load, a walk that passes every page between
two processes waits for the scheduler at every hop, and the ceiling (one process) does
not: wall-clock ratios then mostly measure the load. So the bench also counts the CPU
seconds each side used: the ceiling process's own; for a walk, the client's plus the
server process tree's plus (PostgreSQL) the database server's. Records per CPU second
are what the work costs, whatever the load; on an idle machine, where the walk's
processes take turns on the cores, the wall-clock ratio comes close to the CPU ratio.

    python -m bench.page_ceiling [--records 100000] [--backend sqlite|postgresql|both]
                                 [--page-size 1000] [--repeat 3] [--warmup 1]
                                 [--ceiling-dir /work/shared/bench]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import orjson
import psutil

from chronodelta.client import Client
from chronodelta.domain import API_PREFIX, CLOCKINGS, Scope
from chronodelta.testing import free_port

from ._support import (
    BACKENDS,
    SEED_UNTIL,
    USER_AGENT,
    Backend,
    BenchmarkError,
    SeededTenant,
    bench_server,
    check_ids,
    db_label,
    fetch_token,
    http_client,
    migrated_database,
    positive,
    seed_clockings,
    server_seconds,
)

DELTA_ROUTE = API_PREFIX + "/delta/{collection}"
# The first deltaLink goes back this far (about 31 years): to before the first change.
WHOLE_HISTORY_OVERLAP = 10**9
# The delta filter rules want a start in the past, in this year or the last.
PINNED_TODAY = SEED_UNTIL + dt.timedelta(days=1)
CEILING_RATE = re.compile(r"([0-9,]+) records/s")
# Runs a script as ``python SCRIPT ARGS`` would, then prints the CPU seconds it used.
CPU_COUNTING_RUNNER = """
import runpy, sys, time
sys.argv = sys.argv[1:]
started = time.process_time()
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print(f"cpu seconds {time.process_time() - started}")
"""
CPU_SECONDS = re.compile(r"cpu seconds ([0-9.e-]+)")


@dataclass(frozen=True)
class Walk:
    """One HTTP walk: its records, seconds, body bytes, the client's parsing seconds
    and the server's own seconds on the route; ``cpu_seconds``: client, server and
    database together."""

    records: int
    seconds: float
    body_bytes: int
    parse_seconds: float
    server_seconds: float
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def cpu_rate(self) -> float:
        return self.records / self.cpu_seconds


@dataclass(frozen=True)
class Ceiling:
    """One ceiling run: records per second of wall clock and per CPU second."""

    rate: float
    cpu_rate: float


@dataclass(frozen=True)
class Round:
    """One round's measurements, taken one after the other."""

    ceiling: Ceiling
    listed: Walk
    delta: Walk
    floor: Walk
    plain: Walk  # the list walk from the server that reads no page ahead
    stack: Walk  # the list walk from the server that keeps every page once built
    sdk_delta: Walk  # the delta read through the SDK, parsed as it arrives

    def summary(self) -> str:
        c = self.ceiling

        def ratio(walk: Walk) -> str:
            return (
                f"{walk.rate:,.0f} ({walk.rate / c.rate:.2f}, CPU {walk.cpu_rate / c.cpu_rate:.2f})"
            )

        return (
            f"ceiling {c.rate:,.0f} records/s, list walk {ratio(self.listed)}, without "
            f"read-ahead {ratio(self.plain)}, streamed delta {ratio(self.delta)}, "
            f"client floor {self.floor.rate:,.0f} ({self.floor.rate / c.rate:.2f}), "
            f"stack floor {ratio(self.stack)}, SDK delta {ratio(self.sdk_delta)}"
        )


@dataclass(frozen=True)
class Result:
    backend: Backend
    records: int
    page_size: int
    rounds: tuple[Round, ...]
    load: tuple[float, float]  # the 1-minute load average before and after

    @property
    def ceiling(self) -> tuple[Ceiling, ...]:
        return tuple(r.ceiling for r in self.rounds)

    @property
    def lists(self) -> tuple[Walk, ...]:
        return tuple(r.listed for r in self.rounds)

    @property
    def deltas(self) -> tuple[Walk, ...]:
        return tuple(r.delta for r in self.rounds)

    @property
    def floors(self) -> tuple[Walk, ...]:
        return tuple(r.floor for r in self.rounds)

    @property
    def plains(self) -> tuple[Walk, ...]:
        return tuple(r.plain for r in self.rounds)

    @property
    def stacks(self) -> tuple[Walk, ...]:
        return tuple(r.stack for r in self.rounds)

    @property
    def sdk_deltas(self) -> tuple[Walk, ...]:
        return tuple(r.sdk_delta for r in self.rounds)

    @property
    def ceiling_rate(self) -> float:
        return statistics.median(c.rate for c in self.ceiling)

    def cpu_ratio(self, walks: Sequence[Walk]) -> float:
        ceiling = statistics.median(c.cpu_rate for c in self.ceiling)
        return statistics.median(w.cpu_rate for w in walks) / ceiling

    def rate(self, walks: Sequence[Walk]) -> float:
        return statistics.median(w.rate for w in walks)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the ceiling ------------------------------------------------------------------------


@contextmanager
def ceiling_table(ceiling_dir: Path, records: int) -> Iterator[Path]:
    """A table of ``records`` rows made by the ceiling's ``make_data.py``, deleted after."""
    with tempfile.TemporaryDirectory(prefix="chronodelta-ceiling-") as directory:
        table = Path(directory) / "clockings.db"
        make = [sys.executable, str(ceiling_dir / "make_data.py"), str(records), str(table)]
        subprocess.run([*make, "--end-date", SEED_UNTIL.isoformat()], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        yield table


def run_ceiling(ceiling_dir: Path, table: Path, records: int) -> Ceiling:
    """One run of the ceiling script, in its own process as it is meant to run."""
    script = [str(ceiling_dir / "ceiling.py"), str(table), "--repeat", "1"]
    runner = [sys.executable, "-c", CPU_COUNTING_RUNNER, *script]
    out = subprocess.run(runner, check=True, capture_output=True, text=True).stdout
    rate, cpu = CEILING_RATE.search(out), CPU_SECONDS.search(out)
    if rate is None or cpu is None:
        raise BenchmarkError(f"the ceiling script printed no rate: {out!r}")
    return Ceiling(float(rate.group(1).replace(",", "")), records / float(cpu.group(1)))


# --- CPU seconds ------------------------------------------------------------------------


def database_processes(url: str) -> list[psutil.Process]:
    """The PostgreSQL server listening on ``url``'s port (its backends are its children);
    none for SQLite, which runs inside the server process."""
    port = httpx.URL(url.replace("postgresql://", "http://", 1)).port
    if not url.startswith("postgresql") or port is None:
        return []
    listening = [
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    ]
    return [psutil.Process(pid) for pid in set(listening)]


def tree_cpu_seconds(roots: Sequence[psutil.Process]) -> float:
    """User plus system CPU seconds of these processes and their living children."""
    total = 0.0
    for root in roots:
        for process in [root, *root.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):  # a process that just ended
                times = process.cpu_times()
                total += times.user + times.system
    return total


@contextmanager
def counting_cpu(roots: Sequence[psutil.Process]) -> Iterator[list[float]]:
    """CPU seconds of this process and of ``roots``' trees while the block runs."""
    spent: list[float] = []
    before = time.process_time() + tree_cpu_seconds(roots)
    yield spent
    spent.append(time.process_time() + tree_cpu_seconds(roots) - before)


# --- the HTTP walks ---------------------------------------------------------------------


def walk_list(http: httpx.Client, tenant: SeededTenant) -> Walk:
    """Every page of the clockings list, following nextLink, each body parsed."""
    server_before = server_seconds(http, CLOCKINGS.path)
    ids: list[int] = []
    body_bytes = 0
    parse_seconds = 0.0
    started = time.perf_counter()
    response = http.get(CLOCKINGS.path, params={"filter": tenant.clockings_filter})
    while True:
        if response.status_code != 200:
            raise BenchmarkError(f"list page: {response.status_code} {response.text[:500]}")
        content = response.content
        body_bytes += len(content)
        parsing = time.perf_counter()
        body = orjson.loads(content)
        ids.extend(record["id"] for record in body["value"])
        parse_seconds += time.perf_counter() - parsing
        next_link: str | None = body.get("nextLink")
        if next_link is None:
            break
        response = http.get(next_link)
    seconds = time.perf_counter() - started
    check_ids(ids, tenant.clockings, "list walk")
    on_server = server_seconds(http, CLOCKINGS.path) - server_before
    return Walk(len(ids), seconds, body_bytes, parse_seconds, on_server)


def start_delta(http: httpx.Client, tenant: SeededTenant) -> str:
    """Start a delta over every clocking and walk its snapshot: its first deltaLink."""
    params = {"filter": f"date ge '{tenant.first_date}'", "delta": ""}
    response = http.get(CLOCKINGS.path, params=params)
    seen = 0
    while True:
        if response.status_code != 200:
            raise BenchmarkError(f"snapshot page: {response.status_code} {response.text[:500]}")
        body = orjson.loads(response.content)
        seen += len(body["value"])
        if "deltaLink" in body:
            link: str = body["deltaLink"]
            break
        response = http.get(body["nextLink"])
    if seen != tenant.clockings:
        raise BenchmarkError(f"the snapshot had {seen} records, not {tenant.clockings}")
    return link


def walk_delta(http: httpx.Client, tenant: SeededTenant, link: str) -> Walk:
    """One read of the first deltaLink: every clocking as a change, parsed whole."""
    server_before = server_seconds(http, DELTA_ROUTE)
    started = time.perf_counter()
    response = http.get(link)
    if response.status_code != 200:
        raise BenchmarkError(f"delta read: {response.status_code} {response.text[:500]}")
    content = response.content
    parsing = time.perf_counter()
    ids = [change["data"]["id"] for change in orjson.loads(content)["value"]]
    done = time.perf_counter()
    check_ids(ids, tenant.clockings, "streamed delta")
    on_server = server_seconds(http, DELTA_ROUTE) - server_before
    return Walk(len(ids), done - started, len(content), done - parsing, on_server)


def walk_sdk_delta(sdk: Client, http: httpx.Client, tenant: SeededTenant, link: str) -> Walk:
    """The same deltaLink through the SDK's ``stream_delta``: batches as the body comes."""
    server_before = server_seconds(http, DELTA_ROUTE)
    started = time.perf_counter()
    ids: list[int] = []
    with sdk.clockings.raw.stream_delta(link) as stream:
        for batch in stream:
            ids.extend(change.id for change in batch)
    done = time.perf_counter()
    check_ids(ids, tenant.clockings, "SDK delta")
    on_server = server_seconds(http, DELTA_ROUTE) - server_before
    return Walk(len(ids), done - started, 0, 0.0, on_server)


@contextmanager
def static_page_server(body: bytes) -> Iterator[str]:
    """``_static_page.py`` serving ``body`` on a free loopback port: its base URL."""
    with tempfile.TemporaryDirectory(prefix="chronodelta-floor-") as directory:
        path = Path(directory) / "page.json"
        path.write_bytes(body)
        port = free_port()
        command = [
            *(sys.executable, "-m", "uvicorn", "bench._static_page:app"),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--log-level", "warning", "--no-access-log"),
        ]
        env = {**os.environ, "STATIC_PAGE_BODY": str(path)}
        process = subprocess.Popen(command, env=env, cwd=Path(__file__).parent.parent)
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_until_serving(base_url, process)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError("the static page server exited")
        with suppress(httpx.TransportError):
            httpx.get(base_url + "/", timeout=1)
            return
        time.sleep(0.05)  # polling a subprocess's port until it listens
    raise BenchmarkError("the static page server did not start")


def walk_floor(http: httpx.Client, pages: int, page_size: int) -> Walk:
    """``pages`` GETs of the static page, each parsed as the list walk parses it."""
    body_bytes = 0
    parse_seconds = 0.0
    started = time.perf_counter()
    for _ in range(pages):
        content = http.get("/page").content
        body_bytes += len(content)
        parsing = time.perf_counter()
        body = orjson.loads(content)
        [record["id"] for record in body["value"]]
        parse_seconds += time.perf_counter() - parsing
    return Walk(pages * page_size, time.perf_counter() - started, body_bytes, parse_seconds, 0.0)


# --- one back end -----------------------------------------------------------------------


def run_backend(
    backend: Backend, *, records: int, page_size: int, repeat: int, warmup: int, ceiling_dir: Path
) -> Result:
    with migrated_database(backend) as url, ceiling_table(ceiling_dir, records) as table:
        started = time.perf_counter()
        tenant = seed_clockings(url, records)
        seconds = time.perf_counter() - started
        log(f"[{backend}] seeded {tenant.clockings} clockings in {seconds:.0f} s")
        env = {
            "CHRONODELTA_DELTA_OVERLAP_SECONDS": str(WHOLE_HISTORY_OVERLAP),
            "CHRONODELTA_TODAY": PINNED_TODAY.isoformat(),
        }
        rounds: list[Round] = []
        load_before = os.getloadavg()[0]
        with ExitStack() as servers:
            http, pid = servers.enter_context(served(url, tenant, page_size, env))
            # The same list walk from a server that reads every page at request time.
            off = {**env, "CHRONODELTA_PAGE_READ_AHEAD": "false"}
            plain, plain_pid = servers.enter_context(served(url, tenant, page_size, off))
            kept, kept_pid = servers.enter_context(
                served(url, tenant, page_size, env, free_pages=True)
            )
            link = start_delta(http, tenant)
            first_page = http.get(CLOCKINGS.path, params={"filter": tenant.clockings_filter})
            static_url = servers.enter_context(static_page_server(first_page.content))
            static = servers.enter_context(http_client(static_url))
            database = database_processes(url)
            roots = [psutil.Process(pid), *database]
            plain_roots = [psutil.Process(plain_pid), *database]
            kept_roots = [psutil.Process(kept_pid), *database]
            sdk = servers.enter_context(sdk_client(str(http.base_url), tenant))
            # This process also holds what seeded the data (the server package, SQLAlchemy):
            # frozen, the collector no longer walks it whenever a parsed page's dicts set
            # it off, so the client costs what a client holding only httpx would (parsing
            # a page took about 2 us a record instead of 3 here). The server does the same.
            gc.collect()
            gc.freeze()
            for run in range(warmup + repeat):
                measured = Round(
                    run_ceiling(ceiling_dir, table, records),
                    counted(roots, lambda: walk_list(http, tenant)),
                    counted(roots, lambda: walk_delta(http, tenant, link)),
                    walk_floor(static, -(-records // page_size), page_size),
                    counted(plain_roots, lambda: walk_list(plain, tenant)),
                    counted(kept_roots, lambda: walk_list(kept, tenant)),
                    counted(roots, lambda: walk_sdk_delta(sdk, http, tenant, link)),
                )
                label = "warm-up" if run < warmup else f"run {run - warmup + 1}/{repeat}"
                log(f"[{backend}] {label}: {measured.summary()}; load {os.getloadavg()[0]:.1f}")
                if run >= warmup:
                    rounds.append(measured)
        load = (load_before, os.getloadavg()[0])
        return Result(backend, records, page_size, tuple(rounds), load)


@contextmanager
def served(
    url: str, tenant: SeededTenant, page_size: int, env: dict[str, str], *, free_pages: bool = False
) -> Iterator[tuple[httpx.Client, int]]:
    """A server on ``url`` with ``env``: a keep-alive client with a token for it, and
    the server's process id."""
    with (
        bench_server(url, page_size=page_size, env=env, free_pages=free_pages) as server,
        http_client(server.base_url) as http,
    ):
        token = fetch_token(http, tenant, [Scope.CLOCKINGS_READ])
        http.headers["Authorization"] = "Bearer " + token
        yield http, server.pid


def sdk_client(base_url: str, tenant: SeededTenant) -> Client:
    return Client(
        base_url,
        tenant.name,
        tenant.client_id,
        tenant.client_secret,
        user_agent=USER_AGENT,
        scopes=[Scope.CLOCKINGS_READ.value],
        timeout=300.0,
    )


def counted(roots: Sequence[psutil.Process], walk: Callable[[], Walk]) -> Walk:
    """``walk()``, with the CPU seconds this process and ``roots`` spent on it."""
    with counting_cpu(roots) as spent:
        walked = walk()
    return replace(walked, cpu_seconds=spent[0])


# --- report -----------------------------------------------------------------------------


def report(results: Sequence[Result]) -> str:
    lines = [
        "| Back end | Records | Page size | Ceiling (records/s) | HTTP list walk (records/s) "
        "| **List / ceiling** (CPU) | List walk without read-ahead (records/s) | Without / ceiling "
        "| Streamed delta (changes/s) | **Delta / ceiling** (CPU) "
        "| Client floor (records/s) | Floor / ceiling | Stack floor / ceiling (CPU) "
        "| SDK delta / ceiling (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {db_label(r.backend)} | {r.records:,} | {r.page_size:,} | {r.ceiling_rate:,.0f} "
            f"| {r.rate(r.lists):,.0f} | **{r.rate(r.lists) / r.ceiling_rate:.2f}** "
            f"({r.cpu_ratio(r.lists):.2f}) | {r.rate(r.plains):,.0f} "
            f"| {r.rate(r.plains) / r.ceiling_rate:.2f} ({r.cpu_ratio(r.plains):.2f}) "
            f"| {r.rate(r.deltas):,.0f} "
            f"| **{r.rate(r.deltas) / r.ceiling_rate:.2f}** ({r.cpu_ratio(r.deltas):.2f}) "
            f"| {r.rate(r.floors):,.0f} | {r.rate(r.floors) / r.ceiling_rate:.2f} "
            f"| {r.rate(r.stacks) / r.ceiling_rate:.2f} ({r.cpu_ratio(r.stacks):.2f}) "
            f"| {r.rate(r.sdk_deltas) / r.ceiling_rate:.2f} ({r.cpu_ratio(r.sdk_deltas):.2f}) |"
        )
    lines.append("")
    lines += [f"- {db_label(r.backend)}: {_rounds(r)} {_split(r)}" for r in results]
    return "\n".join(lines)


def _rounds(r: Result) -> str:
    def rates(values: Sequence[float]) -> str:
        return ", ".join(f"{value:,.0f}" for value in values)

    def ratios(walks: Sequence[Walk]) -> str:
        pairs = zip(walks, r.ceiling, strict=True)
        return ", ".join(f"{w.rate / c.rate:.2f} ({w.cpu_rate / c.cpu_rate:.2f})" for w, c in pairs)

    return (
        f"ceiling runs {rates([c.rate for c in r.ceiling])}; list walks "
        f"{rates([w.rate for w in r.lists])}; streamed deltas {rates([w.rate for w in r.deltas])}"
        f" (per second). Within each round (CPU ratio in brackets), list / ceiling "
        f"{ratios(r.lists)}, delta / ceiling {ratios(r.deltas)}, stack floor / ceiling "
        f"{ratios(r.stacks)} and SDK delta / ceiling {ratios(r.sdk_deltas)}. "
        f"Load average {r.load[0]:.1f} before, {r.load[1]:.1f} after."
    )


def _split(r: Result) -> str:
    def shares(walks: Sequence[Walk]) -> str:
        server = statistics.median(w.server_seconds / w.seconds for w in walks)
        parsing = statistics.median(w.parse_seconds / w.seconds for w in walks)
        return f"server {server:.0%}, client parsing {parsing:.0%}, rest {1 - server - parsing:.0%}"

    per_record = r.lists[0].body_bytes / r.records, r.deltas[0].body_bytes / r.records
    return (
        f"Body bytes per record: list {per_record[0]:.0f}, delta {per_record[1]:.0f}. "
        f"Time split of the list walk: {shares(r.lists)}; of the streamed delta: "
        f"{shares(r.deltas)}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page_ceiling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=positive, default=100_000)
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--page-size", type=positive, default=1000)
    parser.add_argument("--repeat", type=positive, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--ceiling-dir",
        type=Path,
        default=Path("/work/shared/bench"),
        help="where ceiling.py and make_data.py are (default /work/shared/bench)",
    )
    args = parser.parse_args(argv)
    if not (args.ceiling_dir / "ceiling.py").is_file():
        parser.error(f"no ceiling.py in {args.ceiling_dir} (give --ceiling-dir)")
    backends: list[Backend] = list(BACKENDS) if args.backend == "both" else [args.backend]
    results = [
        run_backend(
            backend,
            records=args.records,
            page_size=args.page_size,
            repeat=args.repeat,
            warmup=max(args.warmup, 0),
            ceiling_dir=args.ceiling_dir,
        )
        for backend in backends
    ]
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
