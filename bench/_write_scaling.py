"""Clocking writes per second over HTTP with 1, 2, 4 and 8 concurrent writers (issue 14).

One server (``chronodelta serve --workers W``) on a tenant seeded with ``people`` people
and ``days`` days of demo clockings. A run with N writers hands the same ``writes``
realistic clockings of the following days round-robin to N threads, each with its own
keep-alive client and token; each clocking is created (POST) and then edited (PUT,
time moved by a minute). Runs alternate between the writer counts round by round, so
that every count sees the same machine load; the figure is total writes per second
(the median over the rounds) and its ratio to one writer in the same round. The report
also says how the writers' connections were spread over the workers (psutil, as each
client connected): with keep-alive, a writer stays on the worker that accepted it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import psutil

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import API_PREFIX, ClockingDraft, Scope
from chronodelta.testing import ServerProcess

from ._support import (
    CLOCKINGS_PER_PERSON,
    SEED_UNTIL,
    Backend,
    BenchmarkError,
    SeededTenant,
    fetch_token,
    http_client,
    migrated_database,
    seed_clockings,
)

WRITER_COUNTS = (1, 2, 4, 8)
SCOPES = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
CLOCKINGS = f"{API_PREFIX}/clockings"


@dataclass
class Scaling:
    """Writes per second by writer count, one entry per round; ``workers``: the server
    worker each writer's keep-alive connection landed on, in writer order."""

    rates: dict[int, list[float]] = field(default_factory=lambda: {n: [] for n in WRITER_COUNTS})
    workers: list[int] = field(default_factory=list)

    def spread(self, writers: int) -> str:
        """How the first ``writers`` connections are spread over the workers ("3+1")."""
        counts = Counter(self.workers[:writers])
        return "+".join(str(n) for n in sorted(counts.values(), reverse=True))

    def median(self, writers: int) -> float:
        return statistics.median(self.rates[writers])

    def ratios(self, writers: int) -> list[float]:
        return [r / one for r, one in zip(self.rates[writers], self.rates[1], strict=True)]


def body_of(draft: ClockingDraft, minutes: int) -> dict[str, object]:
    body: dict[str, object] = {
        "person": {"id": draft.person_id},
        "date": draft.date.isoformat(),
        "timeOfDayInMinutes": minutes,
        "kind": draft.kind.value,
    }
    if draft.terminal_id is not None:
        body["terminal"] = {"id": draft.terminal_id}
    if draft.reason_id is not None:
        body["reason"] = {"id": draft.reason_id}
        body["isOpen"] = draft.is_open
    if draft.activity_levels:
        body["activityLevels"] = [
            {"level": lv.level, "activityDefinition": {"id": lv.activity_definition_id}}
            for lv in draft.activity_levels
        ]
    return body


def write_share(http: httpx.Client, token: str, drafts: Sequence[ClockingDraft]) -> int:
    """Create and edit each clocking; returns the writes (fails on any other answer)."""
    auth = {"Authorization": f"Bearer {token}"}
    for draft in drafts:
        created = http.post(CLOCKINGS, json=body_of(draft, draft.time_of_day), headers=auth)
        if created.status_code != 201:
            raise BenchmarkError(f"POST answered {created.status_code}: {created.text}")
        edited = body_of(draft, min(draft.time_of_day + 1, 2880))
        target = f"{CLOCKINGS}/{created.json()['id']}"
        answer = http.put(target, json=edited, headers=auth)
        if answer.status_code != 200:
            raise BenchmarkError(f"PUT answered {answer.status_code}: {answer.text}")
    return 2 * len(drafts)


def run_writers(
    clients: Sequence[tuple[httpx.Client, str]], drafts: Sequence[ClockingDraft]
) -> float:
    """All writers at once (they start together at a barrier); writes per second."""
    shares = [drafts[n :: len(clients)] for n in range(len(clients))]
    done: list[int] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(len(clients) + 1)

    def one(http: httpx.Client, token: str, share: Sequence[ClockingDraft]) -> None:
        gate.wait()
        try:
            done.append(write_share(http, token, share))
        except BaseException as error:  # reported below, in the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=one, args=(http, token, share))
        for (http, token), share in zip(clients, shares, strict=True)
    ]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise BenchmarkError(f"a writer failed: {errors[0]!r}")
    return sum(done) / elapsed


def worker_connections(server: ServerProcess) -> dict[int, set[str]]:
    """Each worker's established connections on the server's port (by client address)."""
    found = {}
    for worker in psutil.Process(server.pid).children():
        found[worker.pid] = {
            f"{c.raddr.ip}:{c.raddr.port}"
            for c in worker.net_connections(kind="tcp")
            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == server.port
        }
    return found


def connected_clients(
    server: ServerProcess, tenant: SeededTenant, count: int
) -> tuple[list[tuple[httpx.Client, str]], list[int]]:
    """``count`` keep-alive clients with a token each, connected one after the other as
    a pool would be, and the worker (process id) each connection landed on: uvicorn's
    workers share one listening socket, and whichever accepts first takes it."""
    pairs, workers = [], []
    for _ in range(count):
        before = worker_connections(server)
        http = http_client(server.base_url)
        pairs.append((http, fetch_token(http, tenant, SCOPES)))
        after = worker_connections(server)
        gained = [pid for pid, seen in after.items() if seen - before.get(pid, set())]
        workers.append(gained[0] if len(gained) == 1 else 0)  # 0: not told apart
    return pairs, workers


def later_drafts(tenant: SeededTenant, people: int, count: int) -> list[ClockingDraft]:
    """Realistic clockings of the days after the seeded ones, for the same people."""
    reference = generate_reference_data(people=people, seed=1, today=SEED_UNTIL)
    until = tenant.last_date + dt.timedelta(days=90)
    later = generate_clockings(reference, days=90, until=until, seed=2)
    drafts = [d for d in later if d.date > tenant.last_date]
    if len(drafts) < count:
        raise BenchmarkError(f"only {len(drafts)} later clockings for {count}; add people")
    return drafts[:count]


def run_scaling(backend: Backend, args: argparse.Namespace) -> Scaling:
    """``args``: people, workers, writes (clockings per run), repeat, warmup."""
    scaling = Scaling()
    runs = (args.warmup + args.repeat) * len(WRITER_COUNTS)
    with migrated_database(backend) as url:
        print(f"{backend}: seeding for the scaling runs", file=sys.stderr)
        tenant = seed_clockings(url, args.people * CLOCKINGS_PER_PERSON, scopes=SCOPES)
        drafts = later_drafts(tenant, args.people, args.writes * runs)
        batches = iter([drafts[i : i + args.writes] for i in range(0, len(drafts), args.writes)])
        with ServerProcess(url, args=["--workers", str(args.workers)]) as server:
            pairs, scaling.workers = connected_clients(server, tenant, max(WRITER_COUNTS))
            for number in range(args.warmup + args.repeat):
                for count in WRITER_COUNTS:
                    rate = run_writers(pairs[:count], next(batches))
                    if number >= args.warmup:
                        scaling.rates[count].append(rate)
                    print(f"{backend} round {number}: {count} writers {rate:,.0f} writes/s",
                          file=sys.stderr)  # fmt: skip
            for http, _token in pairs:
                http.close()
    return scaling


def scaling_report(results: dict[Backend, Scaling], labels: dict[Backend, str]) -> list[str]:
    lines = [
        "| database | " + " | ".join(f"{n} writer{'s' * (n > 1)}" for n in WRITER_COUNTS) + " |",
        "|---|" + "---|" * len(WRITER_COUNTS),
    ]
    for backend, scaling in results.items():
        cells = [
            f"{scaling.median(n):,.0f} ({statistics.median(scaling.ratios(n)):.2f}x)"
            for n in WRITER_COUNTS
        ]
        lines.append(f"| {labels[backend]} | " + " | ".join(cells) + " |")
    lines.append("")
    for backend, scaling in results.items():
        per_round = " ".join(f"{r:.2f}" for r in scaling.ratios(max(WRITER_COUNTS)))
        lines.append(f"{labels[backend]}: 8 writers / 1 writer per round: {per_round}")
        spread = ", ".join(f"{n}: {scaling.spread(n)}" for n in WRITER_COUNTS)
        lines.append(f"{labels[backend]}: writers' connections per worker ({spread})")
    return lines
