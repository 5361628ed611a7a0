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
                                    [--profile DIR]

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

    @property
    def in_process_rate(self) -> float:
        return statistics.median(w.rate for w in self.in_process)

    @property
    def http_rate(self) -> float:
        return statistics.median(w.rate for w in self.http)

    @property
    def ratio(self) -> float:
        return self.http_rate / self.in_process_rate


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the two walks ----------------------------------------------------------------------


def walk_in_process(found: Services, tenant: SeededTenant, criteria: FilterCriteria) -> Walk:
    page_size = found.settings.page_size
    digest = filter_digest(criteria.canonical())
    ids: list[int] = []
    body_bytes = pages = 0
    after: tuple[Any, ...] | None = None
    started = time.perf_counter()
    while True:
        pages += 1
        page = found.backend.list_clockings(tenant.id, criteria, after, page_size)
        body: dict[str, Any] = {"value": page.records}
        if page.next_key is not None:
            body["nextLink"] = found.pages.encode(
                tenant.id, "clockings", digest, PagePosition(page.next_key)
            )
        body_bytes += len(orjson.dumps(body))
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
        try:
            with (
                bench_server(url, page_size=page_size, profile_to=server_profile) as server,
                http_client(server.base_url) as http,
            ):
                token = fetch_token(http, tenant, [Scope.CLOCKINGS_READ])
                http.headers["Authorization"] = f"Bearer {token}"
                for run in range(warmup + repeat):
                    label = "warm-up" if run < warmup else f"run {run - warmup + 1}/{repeat}"
                    if profiler is not None:
                        profiler.enable()
                    local = walk_in_process(found, tenant, criteria)
                    if profiler is not None:
                        profiler.disable()
                    remote = walk_http(http, tenant)
                    log(
                        f"[{backend}] {label}: in-process {local.rate:,.0f} records/s, "
                        f"HTTP {remote.rate:,.0f} records/s"
                    )
                    if run >= warmup:
                        in_process.append(local)
                        over_http.append(remote)
        finally:
            found.engine.dispose()
        if profiler is not None and profile_dir is not None:
            profiler.dump_stats(profile_dir / f"{backend}-in-process.prof")
        return Result(backend, records, page_size, tuple(in_process), tuple(over_http))


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
        )
        for backend in backends
    ]
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
