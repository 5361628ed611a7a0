"""Client: a large deltaLink response, parsed by the old and the new parser in one run,
and the sync's delta pass that applies it.

Seeds SQLite with ``--snapshot`` demo clockings, serves them (``chronodelta serve
--workers 1``, ``CHRONODELTA_DELTA_OVERLAP_SECONDS=0``, ``CHRONODELTA_TODAY`` pinned),
starts a delta of its own and mirrors the tenant with ``sync_once`` (a snapshot, then
an empty delta pass: a mirror that follows a delta). Then it writes ``--changes`` more
clockings straight into the database, so that every deltaLink now answers that many
changes in one response (about 360 bytes each: 415,000 are some 150 MB).

1. **Parsing.** The benchmark reads its own deltaLink's body once and feeds it to the
   SDK's ``ChangeReader`` (the raw view, as the sync reads) in pieces of ``--chunk``
   bytes, as ``stream_delta`` would, with the new scanner (``client/_scan.py``) and
   with the old token-level parser put in its place (ijson, ``bench/_ijson_reader.py``),
   alternating, ``--rounds`` times; and, for scale, ``orjson.loads`` of the whole body
   with ``parse_changes`` (what ``follow_delta`` does, holding every change at once).
   Then the body is saved to a file and a fresh process per parser streams it from
   there and reports its peak RSS (``VmHWM``), against one that only reads it and one
   that decodes it whole.
2. **The sync's delta pass.** ``sync_once`` on a copy of that mirror: it reads the
   deltaLink with ``stream_delta`` and applies 5,000 changes at a time in one
   transaction; before (the old parser, no read-ahead), with the new parser only, and
   now (the new parser and the batches read one ahead in a thread,
   ``sync/_readahead.py``), ``--passes`` times each, each variant first in turn. The deltaLink
   request is answered from memory with the body read in step 1, in pieces of
   ``--chunk`` bytes (``Replay``; the token comes from the server), so the rate is the
   sync's own: on this machine the server takes longer to build such a body than the
   sync takes to apply it, and under load its time varies more than anything measured
   here (the "server answered" figure, from the benchmark's own GET, adds to a real pass).

Each mirror must then hold every clocking. Rates are changes per second; ratios are
taken within the run, the machine being shared.

    python -m bench.delta_parse [--changes 415000] [--snapshot 1000] [--rounds 5]

Markdown goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import orjson
import sqlalchemy as sa

from chronodelta.client import Client, date_filter
from chronodelta.client import _stream as client_stream
from chronodelta.client._paging import parse_changes
from chronodelta.client._protocol import as_is
from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import ClockingDraft, Scope
from chronodelta.server import create_client, create_tenant, insert_clockings, insert_reference_data
from chronodelta.storage import create_engine
from chronodelta.sync import SyncConnection, SyncRequest, sync_once
from chronodelta.sync import _runner as sync_runner

from ._ijson_reader import IjsonItems
from ._support import (
    CLOCKINGS_PER_PERSON,
    SEED_MAX_DAYS,
    SEED_UNTIL,
    USER_AGENT,
    BenchmarkError,
    bench_server,
    migrated_database,
    positive,
)

MB = 1024 * 1024
VARIANTS = (
    "before: old parser, no read-ahead",
    "new parser, no read-ahead",
    "now: new parser, read-ahead",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Tenant:
    id: int
    first_date: dt.date
    clients: list[tuple[str, str]]  # the bench's own delta's, the mirror's
    drafts: Iterator[ClockingDraft]  # the clockings not yet written
    changes: int  # how many of them will be
    total: int  # clockings in all, once they are


def seed(url: str, snapshot: int, changes: int) -> Tenant:
    engine = create_engine(url)
    try:
        info = create_tenant(engine, "bench")
        people = math.ceil((snapshot + changes) / CLOCKINGS_PER_PERSON)
        reference = generate_reference_data(people=people, seed=1, today=SEED_UNTIL)
        insert_reference_data(engine, info.id, reference)
        drafts = generate_clockings(reference, days=SEED_MAX_DAYS, until=SEED_UNTIL, seed=1)
        first = list(itertools.islice(drafts, snapshot))
        insert_clockings(engine, info.id, iter(first), calculate=False)
        clients = []
        for n in range(2):
            made = create_client(engine, "bench", (Scope.CLOCKINGS_READ,), description=f"c{n}")
            clients.append((made.client_id, made.client_secret))
    finally:
        engine.dispose()
    return Tenant(info.id, first[0].date, clients, drafts, changes, snapshot + changes)


def write_changes(url: str, tenant: Tenant, count: int) -> None:
    engine = create_engine(url)
    try:
        written = insert_clockings(
            engine, tenant.id, itertools.islice(tenant.drafts, count), calculate=False
        )
    finally:
        engine.dispose()
    if written != count:
        raise BenchmarkError(f"the generator gave {written} more clockings, not {count}")


def sdk(base_url: str, credentials: tuple[str, str]) -> Client:
    return Client(base_url, "bench", *credentials, user_agent=USER_AGENT, timeout=300.0)


def own_delta_link(base_url: str, tenant: Tenant) -> str:
    """The benchmark's own delta, walked to its deltaLink."""
    with sdk(base_url, tenant.clients[0]) as client:
        link = None
        for page in client.clockings.raw.start_delta(date_filter(tenant.first_date)):
            link = page.delta_link
    if link is None:
        raise BenchmarkError("the snapshot ended without a deltaLink")
    return link


def fetch_body(base_url: str, tenant: Tenant, link: str) -> tuple[bytes, float]:
    """The deltaLink's body, and the seconds the server took to answer it."""
    client_id, secret = tenant.clients[0]
    with httpx.Client(base_url=base_url, headers={"User-Agent": USER_AGENT}, timeout=300) as http:
        token = http.post(
            "/tenants/bench/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        headers = {"Authorization": f"Bearer {orjson.loads(token.content)['access_token']}"}
        started = time.perf_counter()
        response = http.get(link, headers=headers)
        seconds = time.perf_counter() - started
    if response.status_code != 200:
        raise BenchmarkError(f"the deltaLink answered {response.status_code}")
    return response.content, seconds


# ---- 1. parsing ------------------------------------------------------------------------


def the_parser(kind: str) -> AbstractContextManager[Any]:
    """The old parser in the new one's place for ``kind`` "old" (see _ijson_reader)."""
    return (
        mock.patch.object(client_stream, "ValueItems", IjsonItems)
        if kind == "old"
        else nullcontext()
    )


def parse_streamed(body: bytes, chunk: int, kind: str) -> tuple[float, int, str | None]:
    request = httpx.Request("GET", "http://127.0.0.1/delta")
    with the_parser(kind):
        reader = client_stream.ChangeReader(as_is, request, httpx.Response(200), batch_size=5000)
        count = 0
        started = time.perf_counter()
        for start in range(0, len(body), chunk):
            for batch in reader.feed(body[start : start + chunk]):
                count += len(batch)
        for batch in reader.end():
            count += len(batch)
        seconds = time.perf_counter() - started
    return seconds, count, reader.delta_link


def own_peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    if found is None:
        raise BenchmarkError("no VmHWM in /proc/self/status")
    return int(found.group(1)) * 1024


def peak_of(kind: str, path: Path, chunk: int) -> int:
    """In this (fresh) process: stream the body in ``path`` through ``kind`` ("none":
    only read it), or decode it whole ("whole"); the peak RSS."""
    request = httpx.Request("GET", "http://127.0.0.1/delta")
    if kind == "whole":
        parse_changes(orjson.loads(path.read_bytes()), as_is)
        return own_peak_rss()
    with the_parser(kind), path.open("rb") as body:
        reader = client_stream.ChangeReader(as_is, request, httpx.Response(200), batch_size=5000)
        while piece := body.read(chunk):
            if kind != "none":
                for _ in reader.feed(piece):
                    pass
    return own_peak_rss()


def peak_rss(kind: str, path: Path, chunk: int) -> int:
    command = [sys.executable, "-m", "bench.delta_parse", "--chunk", str(chunk)]
    done = subprocess.run(
        [*command, "--peak-of", kind, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def peaks_of(body: bytes, directory: Path, chunk: int) -> dict[str, int]:
    saved = directory / "body.json"
    saved.write_bytes(body)
    try:
        peaks = {kind: peak_rss(kind, saved, chunk) for kind in ("none", "old", "new", "whole")}
    finally:
        saved.unlink()
    log("peak RSS: " + ", ".join(f"{k} {v / MB:.0f} MB" for k, v in peaks.items()))
    return peaks


def parse_whole(body: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    changes = parse_changes(orjson.loads(body), as_is)
    return time.perf_counter() - started, len(changes.changes)


@dataclass(frozen=True)
class ParseRound:
    old: float  # changes per second
    new: float
    whole: float


def parse_rounds(body: bytes, changes: int, chunk: int, rounds: int) -> list[ParseRound]:
    found = []
    for n in range(rounds):
        rates: dict[str, float] = {}
        for kind in ("old", "new") if n % 2 == 0 else ("new", "old"):
            seconds, count, link = parse_streamed(body, chunk, kind)
            if count != changes or link is None:
                raise BenchmarkError(f"the {kind} parser gave {count} changes, link {link!r}")
            rates[kind] = count / seconds
        seconds, count = parse_whole(body)
        if count != changes:
            raise BenchmarkError(f"orjson gave {count} changes")
        found.append(ParseRound(rates["old"], rates["new"], count / seconds))
        log(f"round {n + 1}: old {rates['old']:,.0f}/s, new {rates['new']:,.0f}/s")
    return found


# ---- 2. the sync's delta pass ------------------------------------------------------------


def variant(name: str) -> ExitStack:
    stack = ExitStack()
    if name.startswith("before"):
        stack.enter_context(the_parser("old"))
    if not name.startswith("now"):
        passthrough: Callable[[Any], Any] = lambda stream: stream  # noqa: E731
        stack.enter_context(mock.patch.object(sync_runner, "BatchesAhead", passthrough))
    return stack


class _Pieces(httpx.SyncByteStream):
    def __init__(self, body: bytes, chunk: int) -> None:
        self._body = body
        self._chunk = chunk

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self._body), self._chunk):
            yield self._body[start : start + self._chunk]


class Replay(httpx.BaseTransport):
    """The server for everything but deltaLink requests, which get ``body`` in pieces."""

    def __init__(self, body: bytes, chunk: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._body = body
        self._chunk = chunk
        self.replayed = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "deltaToken" not in request.url.params:
            return self._inner.handle_request(request)
        self.replayed += 1
        headers = {"Content-Type": "application/json", "Content-Length": str(len(self._body))}
        return httpx.Response(200, headers=headers, stream=_Pieces(self._body, self._chunk))

    def close(self) -> None:
        self._inner.close()


def sync_pass(
    base_url: str, tenant: Tenant, mirror: Path, replay: Replay | None = None
) -> tuple[float, int]:
    """One ``sync_once`` of ``mirror``: seconds and changes upserted."""
    connection = SyncConnection(base_url, "bench", *tenant.clients[1], user_agent=USER_AGENT)
    request = SyncRequest(("clockings",), tenant.first_date)
    options = {} if replay is None else {"client_options": {"transport": replay}}
    started = time.perf_counter()
    result = sync_once(connection, f"sqlite:///{mirror}", request, **options)
    seconds = time.perf_counter() - started
    [done] = result.collections
    if not done.completed:
        raise BenchmarkError(f"{mirror.name}: the sync did not complete")
    return seconds, done.upserted


def mirror_rows(mirror: Path) -> int:
    engine = create_engine(f"sqlite:///{mirror}")
    try:
        with engine.connect() as connection:
            rows: int = connection.execute(
                sa.text("SELECT count(DISTINCT id) FROM clockings")
            ).scalar_one()
    finally:
        engine.dispose()
    return rows


@dataclass(frozen=True)
class Result:
    changes: int
    body_bytes: int
    server_seconds: float
    rounds: list[ParseRound]
    passes: list[dict[str, float]]  # per repeat, variant: changes per second
    peaks: dict[str, int]  # "none", "old", "new", "whole": peak RSS in bytes


def replayed_pass(
    base_url: str, tenant: Tenant, mirror: Path, name: str, body: bytes, chunk: int
) -> float:
    """The delta pass of variant ``name`` on ``mirror``, its deltaLink answered from
    ``body``: changes per second."""
    replay = Replay(body, chunk)
    with variant(name):
        seconds, upserted = sync_pass(base_url, tenant, mirror, replay)
    rows = mirror_rows(mirror)
    if replay.replayed != 1 or upserted != tenant.changes or rows != tenant.total:
        raise BenchmarkError(f"{name}: {upserted} upserted, {rows} rows")
    return upserted / seconds


def run(changes: int, snapshot: int, rounds: int, chunk: int, repeats: int) -> Result:
    env = {
        "CHRONODELTA_DELTA_OVERLAP_SECONDS": "0",
        "CHRONODELTA_TODAY": (SEED_UNTIL + dt.timedelta(days=1)).isoformat(),
    }
    with migrated_database("sqlite") as url, tempfile.TemporaryDirectory() as directory:
        tenant = seed(url, snapshot, changes)
        prepared = Path(directory) / "prepared.db"
        with bench_server(url, env=env) as server:
            link = own_delta_link(server.base_url, tenant)
            sync_pass(server.base_url, tenant, prepared)
            started = time.perf_counter()
            write_changes(url, tenant, changes)
            log(f"wrote {changes:,} changes in {time.perf_counter() - started:.1f} s")
            body, server_seconds = fetch_body(server.base_url, tenant, link)
            log(f"the deltaLink answered {len(body) / MB:.0f} MB in {server_seconds:.1f} s")
            found = parse_rounds(body, changes, chunk, rounds)
            peaks = peaks_of(body, Path(directory), chunk)
            passes: list[dict[str, float]] = []
            for n in range(repeats):
                passes.append({})
                for name in VARIANTS[n % 3 :] + VARIANTS[: n % 3]:  # each first in turn
                    mirror = Path(directory) / f"mirror-{n}-{VARIANTS.index(name)}.db"
                    shutil.copyfile(prepared, mirror)
                    rate = replayed_pass(server.base_url, tenant, mirror, name, body, chunk)
                    passes[-1][name] = rate
                    mirror.unlink()
                    log(f"pass {n + 1}, {name}: {rate:,.0f} changes/s")
        return Result(changes, len(body), server_seconds, found, passes, peaks)


def report(result: Result) -> str:
    lines = [
        f"Body: {result.changes:,} changes, {result.body_bytes / MB:.0f} MB; the server "
        f"answered it in {result.server_seconds:.1f} s.",
        "",
        "| Round | Old parser (ijson), changes/s | New parser (scanner + orjson), changes/s "
        "| New / old | orjson whole + parse_changes, changes/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, found in enumerate(result.rounds, start=1):
        lines.append(
            f"| {n} | {found.old:,.0f} | {found.new:,.0f} | **{found.new / found.old:.2f}** "
            f"| {found.whole:,.0f} |"
        )
    ratios = [found.new / found.old for found in result.rounds]
    lines += [
        f"| median | | | **{statistics.median(ratios):.2f}** | |",
        "",
        "| Peak RSS of a process that ... | MB |",
        "|---|---:|",
        f"| reads the body in pieces, parses nothing | {result.peaks['none'] / MB:.0f} |",
        f"| streams it through the old parser | {result.peaks['old'] / MB:.0f} |",
        f"| streams it through the new parser | {result.peaks['new'] / MB:.0f} |",
        f"| decodes it whole (follow_delta) | {result.peaks['whole'] / MB:.0f} |",
        "",
        "| Sync pass | " + " | ".join(VARIANTS) + " | new parser / before | now / before |",
        "|---:|" + "---:|" * (len(VARIANTS) + 2),
    ]
    for n, rates in enumerate(result.passes, start=1):
        cells = " | ".join(f"{rates[name]:,.0f}" for name in VARIANTS)
        before = rates[VARIANTS[0]]
        lines.append(
            f"| {n} | {cells} | {rates[VARIANTS[1]] / before:.2f} "
            f"| **{rates[VARIANTS[2]] / before:.2f}** |"
        )
    medians = [
        statistics.median(rates[name] / rates[VARIANTS[0]] for rates in result.passes)
        for name in VARIANTS[1:]
    ]
    lines.append(
        "| median | " + " | " * len(VARIANTS) + f"{medians[0]:.2f} | **{medians[1]:.2f}** |"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delta_parse",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--changes", type=positive, default=415_000)
    parser.add_argument("--snapshot", type=positive, default=1000)
    parser.add_argument("--rounds", type=positive, default=5)
    parser.add_argument("--chunk", type=positive, default=64 * 1024)
    parser.add_argument("--passes", type=positive, default=3, help="sync passes per variant")
    parser.add_argument("--peak-of", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_of:
        print(peak_of(args.peak_of[0], Path(args.peak_of[1]), args.chunk))
        return 0
    print(report(run(args.changes, args.snapshot, args.rounds, args.chunk, args.passes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
