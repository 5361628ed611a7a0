"""List throughput: clockings per second over HTTP against the same work in-process.

For each back end: a fresh database with exactly ``--records`` clockings (within one
year, so one list filter selects them all), then, ``--repeat`` times and interleaved:

* in-process: walk every page with ``ConnectorBackend.list_clockings`` (the backend
  and page-token codec ``create_app`` builds, the criteria the route builds, the same
  page size) and ``orjson.dumps`` each page's body with its continuation token: the
  database read and the serialization, no HTTP;
* over HTTP: one ``chronodelta serve --workers 1`` process with the same page size,
  one keep-alive ``httpx.Client`` that follows ``nextLink`` until it is absent and
  parses each body with ``orjson.loads``, as a real client would.

Both walks must return exactly ``--records`` records with distinct ids. The report is
the median records per second of each, and their ratio (HTTP / in-process), as a
Markdown table on stdout; progress goes to stderr.

    python -m bench.list_throughput [--records 100000] [--backend sqlite|postgresql|both]
                                    [--page-size 1000] [--repeat 3] [--warmup 1]
                                    [--profile DIR] [--sandbox on|off|compare]

``--sandbox`` (issue 13, BENCHMARKS.md "Sandbox overhead"): ``on`` (the default) serves
with the fault rules and the request log as configured by default; ``off`` with both
turned off (``CHRONODELTA_FAULTS=false``, ``CHRONODELTA_REQUEST_LOG=false``);
``compare`` runs an ``off`` server as the HTTP walk above and an ``on`` server beside
it, walked right after it (before it in odd rounds, as the order alone changed the
figures), and reports the ratio on / off. On a busy
machine that ratio is mostly noise (one page is a few ms), so ``compare`` also walks
in-process a third time with the sandbox's per-call work added to every page (the
tenant's fault-rule read and a request-log row handed to a running batch writer, which
writes them to the same database), and reports that walk's rate over the plain one.

Issue 13, item 1: every API request reads its tenant's clock (one primary-key lookup,
``TenantClocks.read``). After each in-process walk the benchmark times as many of those
reads as the walk had pages, and the notes give their cost per read and as a share of
the HTTP walk's time (the most the clock can cost a list walk).

The timed rounds follow ``--warmup`` untimed ones (caches, the server's first
requests). The notes under the table split the HTTP walk's time: what
the server's request middleware measured on the list route (from ``/metrics``), what
the client spent parsing, and the rest (uvicorn's HTTP handling, httpx, the socket).

``--profile DIR`` also writes cProfile data: ``<backend>-in-process.prof`` (the
in-process walks) and ``<backend>-server.prof`` (the whole server run, every thread:
the event loop and the threadpool that runs the sync route handlers; see
``_profiled.py``). Read them with ``python -m pstats``. Profiling slows everything,
so the figures of a profiled run are not comparable with others.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from chronodelta.domain import CLOCKINGS, Scope
from chronodelta.domain._filters import CLOCKINGS_FILTER, FilterCriteria, compile_filter
from chronodelta.server import Settings, create_app
from chronodelta.server._services import Services
from chronodelta.server.records._paging import PagePosition, filter_digest
from chronodelta.server.request_log._entry import LogEntry, redacted_query
from chronodelta.server.request_log._sandbox import RequestSandbox

from ._support import (
    BACKENDS,
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


@dataclass(frozen=True)
class Walk:
    """One walk over every page: how long it took and how many body bytes it made.

    HTTP walks only: ``parse_seconds`` is the time the client spent parsing bodies,
    ``server_seconds`` the time the server's middleware measured on the list route.
    """

    records: int
    seconds: float
    body_bytes: int
    parse_seconds: float = 0.0
    server_seconds: float = 0.0
    # In-process walks: the time of one tenant-clock read per page (issue 13).
    clock_seconds: float = 0.0
    pages: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds


@dataclass(frozen=True)
class Result:
    backend: Backend
    records: int
    page_size: int
    in_process: tuple[Walk, ...]
    http: tuple[Walk, ...]
    # --sandbox compare: the walks of the server with the fault rules and log on, and the
    # in-process walks with the sandbox's per-call work added.
    sandbox_http: tuple[Walk, ...] = ()
    sandbox_in_process: tuple[Walk, ...] = ()

    @property
    def in_process_rate(self) -> float:
        return statistics.median(w.rate for w in self.in_process)

    @property
    def http_rate(self) -> float:
        return statistics.median(w.rate for w in self.http)

    @property
    def ratio(self) -> float:
        return self.http_rate / self.in_process_rate

    @property
    def sandbox_ratio(self) -> float:
        return statistics.median(w.rate for w in self.sandbox_http) / self.http_rate

    @property
    def sandbox_in_process_ratio(self) -> float:
        return statistics.median(w.rate for w in self.sandbox_in_process) / self.in_process_rate


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the two walks ----------------------------------------------------------------------


def walk_in_process(
    found: Services,
    tenant: SeededTenant,
    criteria: FilterCriteria,
    sandbox: RequestSandbox | None = None,
) -> Walk:
    """``sandbox``: add its per-call work to every page (``--sandbox compare``)."""
    page_size = found.settings.page_size
    digest = filter_digest(criteria.canonical())
    ids: list[int] = []
    body_bytes = pages = 0
    after: tuple[Any, ...] | None = None
    started = time.perf_counter()
    while True:
        pages += 1
        call_started = time.perf_counter()
        if sandbox is not None and sandbox.faults is not None:
            sandbox.faults.fired(tenant.name, None, "GET", CLOCKINGS.path)
        page = found.backend.list_clockings(tenant.id, criteria, after, page_size)
        body: dict[str, Any] = {"value": page.records}
        if page.next_key is not None:
            body["nextLink"] = found.pages.encode(
                tenant.id, "clockings", digest, PagePosition(page.next_key)
            )
        encoded = orjson.dumps(body)
        body_bytes += len(encoded)
        if sandbox is not None and sandbox.writer is not None:
            sandbox.writer.add(_log_entry(tenant, call_started, len(encoded)))
        ids.extend(record["id"] for record in page.records)
        if page.next_key is None:
            break
        after = page.next_key
    seconds = time.perf_counter() - started
    check_ids(ids, tenant.clockings, "in-process walk")
    reading = time.perf_counter()
    for _ in range(pages):
        found.clocks.read(tenant.id)
    clock_seconds = time.perf_counter() - reading
    return Walk(len(ids), seconds, body_bytes, clock_seconds=clock_seconds, pages=pages)


def _log_entry(tenant: SeededTenant, started: float, size: int) -> LogEntry:
    return LogEntry(
        tenant.name,
        dt.datetime.now(dt.UTC),
        "cd-bench",
        "GET",
        CLOCKINGS.path,
        redacted_query(b"filter=" + tenant.clockings_filter.encode()),
        200,
        (time.perf_counter() - started) * 1000,
        size,
    )


def walk_http(http: httpx.Client, tenant: SeededTenant) -> Walk:
    server_before = server_seconds(http, CLOCKINGS.path)
    ids: list[int] = []
    body_bytes = 0
    pages = 0
    parse_seconds = 0.0
    started = time.perf_counter()
    response = http.get(CLOCKINGS.path, params={"filter": tenant.clockings_filter})
    while True:
        pages += 1
        if response.status_code != 200:
            raise BenchmarkError(
                f"HTTP walk: page {pages} answered {response.status_code}: {response.text[:500]}"
            )
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
    check_ids(ids, tenant.clockings, "HTTP walk")
    on_server = server_seconds(http, CLOCKINGS.path) - server_before
    return Walk(len(ids), seconds, body_bytes, parse_seconds, on_server)


# --- one back end ---------------------------------------------------------------------


def run_backend(
    backend: Backend,
    *,
    records: int,
    page_size: int,
    repeat: int,
    warmup: int,
    profile_dir: Path | None,
    sandbox: str = "on",
) -> Result:
    with migrated_database(backend) as url:
        started = time.perf_counter()
        tenant = seed_clockings(url, records)
        log(
            f"[{backend}] seeded {tenant.clockings} clockings "
            f"({tenant.first_date} to {tenant.last_date}) in {time.perf_counter() - started:.1f} s"
        )
        criteria = compile_filter(
            tenant.clockings_filter, CLOCKINGS_FILTER, mode="list", today=dt.date.today()
        )
        # What a server worker builds (backend, page-token codec), minus the HTTP.
        found: Services = create_app(Settings(database_url=url, page_size=page_size)).state.services
        profiler = cProfile.Profile() if profile_dir is not None else None
        server_profile = profile_dir / f"{backend}-server.prof" if profile_dir else None
        in_process: list[Walk] = []
        over_http: list[Walk] = []
        with_sandbox: list[Walk] = []
        local_sandboxed: list[Walk] = []
        sandbox_work = RequestSandbox.build(found.engine, found.settings)
        base_env = {} if sandbox == "on" else SANDBOX_OFF
        try:
            with (
                bench_server(
                    url, page_size=page_size, env=base_env, profile_to=server_profile
                ) as server,
                http_client(server.base_url) as http,
                ExitStack() as stack,
            ):
                token = fetch_token(http, tenant, [Scope.CLOCKINGS_READ])
                http.headers["Authorization"] = f"Bearer {token}"
                sandboxed = (
                    _sandboxed_client(stack, url, page_size, tenant)
                    if sandbox == "compare"
                    else None
                )
                for run in range(warmup + repeat):
                    label = "warm-up" if run < warmup else f"run {run - warmup + 1}/{repeat}"
                    if profiler is not None:
                        profiler.enable()
                    local = walk_in_process(found, tenant, criteria)
                    if profiler is not None:
                        profiler.disable()
                    on: Walk | None = None
                    if sandboxed is not None and run % 2:
                        on = walk_http(sandboxed, tenant)  # odd rounds: on first (order bias)
                    remote = walk_http(http, tenant)
                    if sandboxed is not None and not run % 2:
                        on = walk_http(sandboxed, tenant)
                    added = None
                    if sandboxed is not None:
                        sandbox_work.start()
                        added = walk_in_process(found, tenant, criteria, sandbox_work)
                        sandbox_work.stop()
                    log(
                        f"[{backend}] {label}: in-process {local.rate:,.0f} records/s, "
                        f"HTTP {remote.rate:,.0f} records/s"
                        + (f", HTTP with the sandbox on {on.rate:,.0f}" if on else "")
                    )
                    if run >= warmup:
                        in_process.append(local)
                        over_http.append(remote)
                        with_sandbox.extend([on] if on else [])
                        local_sandboxed.extend([added] if added else [])
        finally:
            found.engine.dispose()
        if profiler is not None and profile_dir is not None:
            profiler.dump_stats(profile_dir / f"{backend}-in-process.prof")
        return Result(
            backend,
            records,
            page_size,
            tuple(in_process),
            tuple(over_http),
            tuple(with_sandbox),
            tuple(local_sandboxed),
        )


SANDBOX_OFF = {"CHRONODELTA_FAULTS": "false", "CHRONODELTA_REQUEST_LOG": "false"}


def _sandboxed_client(
    stack: ExitStack, url: str, page_size: int, tenant: SeededTenant
) -> httpx.Client:
    """A second server on the same database with the fault rules and the log on, and a
    client of it with its own token."""
    server = stack.enter_context(bench_server(url, page_size=page_size))
    http = stack.enter_context(http_client(server.base_url))
    http.headers["Authorization"] = "Bearer " + fetch_token(http, tenant, [Scope.CLOCKINGS_READ])
    return http


# --- report -----------------------------------------------------------------------------


def report(results: Sequence[Result]) -> str:
    lines = [
        "| Back end | Records | Page size | In-process (records/s) | HTTP (records/s) "
        "| HTTP / in-process |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {db_label(r.backend)} | {r.records:,} | {r.page_size:,} | {r.in_process_rate:,.0f} "
            f"| {r.http_rate:,.0f} | {r.ratio:.2f} |"
        )
    lines.append("")
    for r in results:
        local = ", ".join(f"{w.rate:,.0f}" for w in r.in_process)
        remote = ", ".join(f"{w.rate:,.0f}" for w in r.http)
        paired = ", ".join(
            f"{h.rate / i.rate:.2f}" for i, h in zip(r.in_process, r.http, strict=True)
        )
        size = r.http[0].body_bytes / r.records
        server = statistics.median(w.server_seconds / w.seconds for w in r.http)
        parsing = statistics.median(w.parse_seconds / w.seconds for w in r.http)
        lines.append(
            f"- {db_label(r.backend)}: in-process runs {local}; HTTP runs {remote} (records/s); "
            f"ratio within each round {paired}; "
            f"{size:.0f} body bytes per record. Of the HTTP walk's time, the server's "
            f"middleware measured {server:.0%} on the route, the client spent {parsing:.0%} "
            f"parsing; the other {1 - server - parsing:.0%} is uvicorn, httpx and the socket."
        )
        per_read = statistics.median(w.clock_seconds / w.pages for w in r.in_process)
        share = statistics.median(
            i.clock_seconds / h.seconds for i, h in zip(r.in_process, r.http, strict=True)
        )
        lines.append(
            f"- {db_label(r.backend)}: the tenant-clock read of each request (issue 13) took "
            f"{per_read * 1e6:,.0f} µs, {share:.1%} of the HTTP walk's time (one per page)."
        )
        if r.sandbox_http:
            on = ", ".join(f"{w.rate:,.0f}" for w in r.sandbox_http)
            paired = ", ".join(
                f"{s.rate / h.rate:.3f}" for h, s in zip(r.http, r.sandbox_http, strict=True)
            )
            lines.append(
                f"- {db_label(r.backend)}, sandbox: HTTP with fault rules and request log on "
                f"{on} (records/s), off as above; on / off within each round {paired}; "
                f"**on / off of the medians {r.sandbox_ratio:.3f}**."
            )
            added = ", ".join(f"{w.rate:,.0f}" for w in r.sandbox_in_process)
            paired = ", ".join(
                f"{s.rate / i.rate:.3f}"
                for i, s in zip(r.in_process, r.sandbox_in_process, strict=True)
            )
            lines.append(
                f"- {db_label(r.backend)}, sandbox in-process: with each page's fault-rule "
                f"read and log row {added} (records/s); with / without within each round "
                f"{paired}; **with / without of the medians {r.sandbox_in_process_ratio:.3f}**."
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.list_throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=positive, default=100_000)
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--page-size", type=positive, default=1000)
    parser.add_argument("--repeat", type=positive, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed walks first (default 1)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write cProfile data here")
    parser.add_argument(
        "--sandbox",
        choices=["on", "off", "compare"],
        default="on",
        help="fault rules and request log: on (default), off, or both servers (compare)",
    )
    args = parser.parse_args(argv)
    backends: list[Backend] = list(BACKENDS) if args.backend == "both" else [args.backend]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = [
        run_backend(
            backend,
            records=args.records,
            page_size=args.page_size,
            repeat=args.repeat,
            warmup=max(args.warmup, 0),
            profile_dir=args.profile,
            sandbox=args.sandbox,
        )
        for backend in backends
    ]
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
