"""How fast a committed clocking reaches a webhook receiver (issue 12, "Measure").

For each back end, a fresh database with tenant ``bench`` (a small seeded tenant and a
client of clockings and webhooks scopes), served by ``chronodelta serve`` (SQLite: one
worker; PostgreSQL: ``--workers 2``, so that the worker that wrote an event and the
one that delivers it may differ). A receiver in this process (a threading HTTP server
on loopback) answers 204 and notes when each event arrived. A webhook on
``clockings`` points at it. Two phases:

* **latency**: ``--posts`` clocking POSTs one after the other, each waiting for its
  event before the next: the time from the POST's 201 to the receiver having the event
  (p50, p99);
* **throughput**: ``--burst`` clocking POSTs from 4 threads as fast as they go; events
  delivered per second, from the first POST to the last event received.

    python -m bench.webhook_latency [--backend sqlite|postgresql|both] [--posts 100]
                                    [--burst 400]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

from bench._support import (
    Backend,
    db_label,
    fetch_token,
    http_client,
    migrated_database,
    positive,
    seed_clockings,
)
from chronodelta.domain import Scope
from chronodelta.testing import ServerProcess

API = "/connector/protimeapi/api/v1"
SCOPES = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE, Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE)
WAIT_SECONDS = 60.0


class Receiver:
    """Notes the arrival time of every clocking event, by clocking id."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.perf_counter()
                event: dict[str, Any] = orjson.loads(body)
                with receiver._changed:
                    receiver.arrived.setdefault(int(event["data"]["id"]), now)
                    receiver._changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/events"

    def wait_for(self, ids: set[int]) -> float:
        """The arrival time of the last of ``ids``; an error past the deadline."""
        deadline = time.monotonic() + WAIT_SECONDS
        with self._changed:
            while not ids <= set(self.arrived):
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"{len(ids - set(self.arrived))} events never arrived")
            return max(self.arrived[i] for i in ids)

    def close(self) -> None:
        self._server.shutdown()


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p99_ms: float
    per_second: float


def clocking(number: int) -> dict[str, Any]:
    return {
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 300 + number % 900,
        "kind": "InOut",
    }


def post(http: httpx.Client, auth: dict[str, str], number: int) -> tuple[int, float]:
    response = http.post(f"{API}/clockings", json=clocking(number), headers=auth)
    if response.status_code != 201:
        raise RuntimeError(f"POST gave {response.status_code}: {response.text}")
    return int(response.json()["id"]), time.perf_counter()


@contextmanager
def served(backend: Backend) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    with migrated_database(backend) as url:
        tenant = seed_clockings(url, 50, scopes=SCOPES)
        workers = "2" if backend == "postgresql" else "1"
        with ServerProcess(url, args=["--workers", workers]) as server:
            with http_client(server.base_url) as http:
                auth = {"Authorization": f"Bearer {fetch_token(http, tenant, SCOPES)}"}
            yield server, auth


def measure(backend: Backend, posts: int, burst: int) -> Figures:
    receiver = Receiver()
    try:
        with served(backend) as (server, auth), http_client(server.base_url) as http:
            body = {"destinationUrl": receiver.url, "collectionName": "clockings"}
            registered = http.post(f"{API}/webhooks", json=body, headers=auth)
            if registered.status_code != 201:
                raise RuntimeError(f"registration gave {registered.status_code}")
            latencies = []
            for number in range(posts):
                clocking_id, answered = post(http, auth, number)
                latencies.append(receiver.wait_for({clocking_id}) - answered)
            print(f"{backend}: latency done", file=sys.stderr)
            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                ids = {i for i, _ in pool.map(lambda n: post(http, auth, n), range(burst))}
            finished = receiver.wait_for(ids)
    finally:
        receiver.close()
    cuts = statistics.quantiles(latencies, n=100)
    return Figures(cuts[49] * 1000, cuts[98] * 1000, burst / (finished - started))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--posts", type=positive, default=100)
    parser.add_argument("--burst", type=positive, default=400)
    args = parser.parse_args(argv)
    backends: list[Backend] = (
        ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    )
    print("| back end | 201 → event p50 | p99 | events/s (burst of 4 writers) |")
    print("|---|---|---|---|")
    for backend in backends:
        found = measure(backend, args.posts, args.burst)
        print(
            f"| {db_label(backend)} | {found.p50_ms:.1f} ms | {found.p99_ms:.1f} ms "
            f"| {found.per_second:.0f} |"
        )


if __name__ == "__main__":
    main()
