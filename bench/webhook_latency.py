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
  delivered per second, from the first POST to the last event received;
* **slow receiver** (issue 12: "clocking POSTs per second with a receiver that takes 2 s
  per request against one that answers at once"): ``--webhooks`` webhooks (default 16,
  the default ``CHRONODELTA_WEBHOOK_CONCURRENCY``, so every delivery slot of a worker
  is taken) on an instant receiver, then as many on a receiver that sleeps 2 s before
  each answer; the same ``--slow-posts`` POSTs from 4 threads against each, in the same
  server. The aim is a ratio (slow / instant) of at least 0.9.

    python -m bench.webhook_latency [--backend sqlite|postgresql|both] [--posts 100]
                                    [--burst 400] [--webhooks 16] [--slow-posts 300]

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
    """Notes the arrival time of every clocking event, by clocking id, and counts the
    events; answers 204 after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrived: dict[int, float] = {}
        self.events = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                now = time.perf_counter()
                event: dict[str, Any] = orjson.loads(body)
                with receiver._changed:
                    receiver.arrived.setdefault(int(event["data"]["id"]), now)
                    receiver.events += 1
                    receiver._changed.notify_all()
                if delay:
                    time.sleep(delay)  # the slow receiver under test, not synchronization
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
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

    def wait_for_events(self, count: int, timeout: float = 10 * WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.events < count:
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"{count - self.events} events never arrived")

    def close(self) -> None:
        self._server.shutdown()


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p99_ms: float
    per_second: float


@dataclass(frozen=True)
class SlowReceiverFigures:
    instant_posts_per_second: float
    slow_posts_per_second: float
    slow_requests_during: int  # deliveries the slow receiver got while the POSTs ran

    @property
    def ratio(self) -> float:
        return self.slow_posts_per_second / self.instant_posts_per_second


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


def register(http: httpx.Client, auth: dict[str, str], url: str) -> str:
    body = {"destinationUrl": url, "collectionName": "clockings"}
    registered = http.post(f"{API}/webhooks", json=body, headers=auth)
    if registered.status_code != 201:
        raise RuntimeError(f"registration gave {registered.status_code}")
    return str(registered.json()["id"])


def post_rate(http: httpx.Client, auth: dict[str, str], posts: int, first: int) -> float:
    """Clocking POSTs per second, ``posts`` of them from 4 threads."""
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: post(http, auth, n), range(first, first + posts)))
    return posts / (time.perf_counter() - started)


def measure_slow_receiver(
    http: httpx.Client, auth: dict[str, str], webhooks: int, posts: int
) -> SlowReceiverFigures:
    """The same POSTs with ``webhooks`` webhooks on an instant, then a 2-s receiver."""
    instant, slow = Receiver(), Receiver(delay=2.0)
    try:
        hooks = [register(http, auth, instant.url) for _ in range(webhooks)]
        instant_rate = post_rate(http, auth, posts, 10_000)
        instant.wait_for_events(webhooks * posts)  # drained before the next phase
        for hook in hooks:
            http.delete(f"{API}/webhooks/{hook}", headers=auth)
        hooks = [register(http, auth, slow.url) for _ in range(webhooks)]
        slow_rate = post_rate(http, auth, posts, 20_000)
        during = slow.events
        for hook in hooks:  # the events still pending go with them
            http.delete(f"{API}/webhooks/{hook}", headers=auth)
    finally:
        instant.close()
        slow.close()
    return SlowReceiverFigures(instant_rate, slow_rate, during)


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


def measure_slow(backend: Backend, webhooks: int, posts: int) -> SlowReceiverFigures:
    with served(backend) as (server, auth), http_client(server.base_url) as http:
        found = measure_slow_receiver(http, auth, webhooks, posts)
    print(f"{backend}: slow receiver done", file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--posts", type=positive, default=100)
    parser.add_argument("--burst", type=positive, default=400)
    parser.add_argument("--webhooks", type=positive, default=16)
    parser.add_argument("--slow-posts", type=positive, default=300)
    args = parser.parse_args(argv)
    backends: list[Backend] = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print("| back end | 201 → event p50 | p99 | events/s (burst of 4 writers) |")
    print("|---|---|---|---|")
    for backend in backends:
        found = measure(backend, args.posts, args.burst)
        print(
            f"| {db_label(backend)} | {found.p50_ms:.1f} ms | {found.p99_ms:.1f} ms "
            f"| {found.per_second:.0f} |"
        )
    print()
    print(
        f"| back end | POSTs/s, {args.webhooks} webhooks on an instant receiver "
        "| on a 2-s receiver | ratio | 2-s deliveries during the POSTs |"
    )
    print("|---|---|---|---|---|")
    for backend in backends:
        slow = measure_slow(backend, args.webhooks, args.slow_posts)
        print(
            f"| {db_label(backend)} | {slow.instant_posts_per_second:.0f} "
            f"| {slow.slow_posts_per_second:.0f} | {slow.ratio:.2f} | {slow.slow_requests_during} |"
        )


if __name__ == "__main__":
    main()
