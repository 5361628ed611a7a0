"""What a request costs besides its records: the request path, over HTTP (issue 14).

For each back end: a fresh database with ``--records`` clockings, served by
``chronodelta serve --workers 1``; one keep-alive ``httpx.Client`` then makes
``--requests`` calls of each kind, one after the other:

* **empty list**: ``GET .../clockings`` with a filter that matches nothing (a year
  before the seeded ones): the token, the tenant's per-request read, the filter, one
  empty page and the response, and nothing else;
* **one clocking**: ``GET .../clockings/{id}``.

With ``--against SRC`` (the ``src`` directory of another checkout, e.g. a
``git worktree`` of the commit before a change), a second server runs that code on the
same database (``PYTHONPATH=SRC``), and the rounds alternate between the two, so both
see the same machine. The report is the median milliseconds per request over
``--repeat`` rounds, and the ratio of the two servers' medians within each round.

    python -m bench.request_path [--backend sqlite|postgresql|both] [--requests 500]
                                 [--repeat 5] [--against ../before/src]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from chronodelta.domain import CLOCKINGS, Scope

from ._support import (
    BACKENDS,
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

KINDS = ("empty list", "one clocking")
Call = Callable[[httpx.Client], httpx.Response]


def calls(tenant: SeededTenant, clocking_id: int) -> dict[str, Call]:
    year_before = tenant.first_date.replace(year=tenant.first_date.year - 1)
    empty = f"date ge '{year_before.isoformat()}' and date le '{year_before.isoformat()}'"
    return {
        "empty list": lambda http: http.get(CLOCKINGS.path, params={"filter": empty}),
        "one clocking": lambda http: http.get(f"{CLOCKINGS.path}/{clocking_id}"),
    }


def timed(http: httpx.Client, call: Call, requests: int) -> float:
    """Milliseconds per request, ``requests`` calls in a row (each must answer 200)."""
    started = time.perf_counter()
    for _ in range(requests):
        response = call(http)
        if response.status_code != 200:
            raise BenchmarkError(f"{response.request.url}: {response.status_code}")
    return (time.perf_counter() - started) / requests * 1000


@contextmanager
def client_of(url: str, tenant: SeededTenant, src: Path | None) -> Iterator[httpx.Client]:
    env = {"PYTHONPATH": str(src)} if src is not None else {}
    with bench_server(url, env=env) as server, http_client(server.base_url) as http:
        http.headers["Authorization"] = "Bearer " + fetch_token(
            http, tenant, [Scope.CLOCKINGS_READ]
        )
        yield http


def measure(backend: Backend, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """By server ("this", "against") and kind: milliseconds per request, one per round."""
    with migrated_database(backend) as url, ExitStack() as stack:
        tenant = seed_clockings(url, args.records)
        servers = {"this": stack.enter_context(client_of(url, tenant, None))}
        if args.against is not None:
            servers["against"] = stack.enter_context(client_of(url, tenant, args.against))
        first = servers["this"].get(CLOCKINGS.path, params={"filter": tenant.clockings_filter})
        kinds = calls(tenant, first.json()["value"][0]["id"])
        results: dict[str, dict[str, list[float]]] = {
            name: {kind: [] for kind in KINDS} for name in servers
        }
        for round_number in range(args.warmup + args.repeat):
            for name, http in servers.items():
                for kind, call in kinds.items():
                    ms = timed(http, call, args.requests)
                    if round_number >= args.warmup:
                        results[name][kind].append(ms)
            print(f"{backend} round {round_number}: {results}", file=sys.stderr, flush=True)
        return results


def report(backend: Backend, results: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = []
    for kind in KINDS:
        this = results["this"][kind]
        cells = [f"{statistics.median(this):.3f}"]
        if "against" in results:
            other = results["against"][kind]
            ratios = [a / b for a, b in zip(this, other, strict=True)]
            cells += [f"{statistics.median(other):.3f}", f"{statistics.median(ratios):.2f}"]
        lines.append(f"| {db_label(backend)} | {kind} | " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.request_path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--records", type=positive, default=2000)
    parser.add_argument("--requests", type=positive, default=500)
    parser.add_argument("--repeat", type=positive, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--against", type=Path, help="another checkout's src, run alongside")
    args = parser.parse_args(argv)
    if args.against is not None and not (args.against / "chronodelta").is_dir():
        parser.error(f"--against: no chronodelta package in {args.against}")
    chosen: Sequence[Backend] = BACKENDS if args.backend == "both" else (args.backend,)
    header = "| database | request | this code (ms) |"
    if args.against is not None:
        header += f" {args.against} (ms) | this / that (per round, median) |"
    print(header)
    print("|---|---|" + "---:|" * (header.count("|") - 3))
    for backend in chosen:
        print("\n".join(report(backend, measure(backend, args))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
