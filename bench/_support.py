"""What every benchmark needs: a migrated database, a seeded tenant, a real server.

* :func:`migrated_database` gives the URL of a fresh, migrated database: a SQLite file
  in a temporary directory, or a database in a :class:`ThrowawayPostgres` cluster.
  Everything is deleted afterwards.
* :func:`seed_clockings` creates a tenant, a read-only API client and exactly ``count``
  realistic clockings (the demo generator, cut to ``count``), all within one year so
  that a single list filter selects every one of them.
* :class:`BenchServer` runs ``chronodelta serve --workers 1`` on a free loopback port,
  waits until uvicorn logs "Application startup complete" (bounded, no sleeps) and
  stops it; optionally under cProfile.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import httpx
import orjson

from chronodelta.domain import ClockingDraft, Scope
from chronodelta.server import create_client, create_tenant
from chronodelta.server._admin import insert_clockings, insert_reference_data
from chronodelta.server._demo_data import generate_clockings, generate_reference_data
from chronodelta.storage import DATABASE_URL_ENV, create_engine, upgrade
from chronodelta.testing import ThrowawayPostgres

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")

HOST = "127.0.0.1"
USER_AGENT = "chronodelta-bench/1.0 (chronodelta)"
PAGE_SIZE_ENV = "CHRONODELTA_PAGE_SIZE"
READY_LINE = "Application startup complete"

# A fixed end date keeps the seeded rows identical from run to run.
SEED_UNTIL = dt.date(2025, 12, 31)
# A list filter spans at most a year; the generator walks days in order, so the
# clockings of at most this many days (ending at SEED_UNTIL) are used.
SEED_MAX_DAYS = 360
# The generator averages about 2.6 clockings per person and calendar day; 250 per
# person fills about 100 days (400 people for 100,000 clockings).
CLOCKINGS_PER_PERSON = 250


class BenchmarkError(RuntimeError):
    """A benchmark could not run, or its results are wrong (never report those)."""


# --- databases ----------------------------------------------------------------------


def migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def migrated_database(backend: Backend) -> Iterator[str]:
    """The URL of a fresh, migrated database of ``backend``, deleted afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chronodelta-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            migrate(url)
            yield url
    elif backend == "postgresql":
        with ThrowawayPostgres() as cluster:
            url = cluster.create_database("bench")
            migrate(url)
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")


# --- data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededTenant:
    name: str
    id: int
    client_id: str
    client_secret: str
    clockings: int
    first_date: dt.date
    last_date: dt.date

    @property
    def clockings_filter(self) -> str:
        """A list filter that selects every seeded clocking (the range is under a year)."""
        return (
            f"date ge '{self.first_date.isoformat()}' and date le '{self.last_date.isoformat()}'"
        )


def seed_clockings(
    url: str,
    count: int,
    *,
    tenant: str = "bench",
    scopes: Sequence[Scope] = (Scope.CLOCKINGS_READ,),
    seed: int = 1,
    until: dt.date = SEED_UNTIL,
) -> SeededTenant:
    """A new tenant with a client of ``scopes`` and exactly ``count`` clockings."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    people = math.ceil(count / CLOCKINGS_PER_PERSON)
    engine = create_engine(url)
    try:
        info = create_tenant(engine, tenant)
        client = create_client(engine, tenant, scopes, description="benchmark client")
        reference = generate_reference_data(people=people, seed=seed, today=until)
        insert_reference_data(engine, info.id, reference)
        drafts = generate_clockings(reference, days=SEED_MAX_DAYS, until=until, seed=seed)
        first_date = last_date = until

        def tracked() -> Iterator[ClockingDraft]:
            nonlocal first_date, last_date
            for index, draft in enumerate(itertools.islice(drafts, count)):
                if index == 0:
                    first_date = draft.date
                last_date = draft.date  # drafts come in date order
                yield draft

        inserted = insert_clockings(engine, info.id, tracked())
    finally:
        engine.dispose()
    if inserted != count:
        raise BenchmarkError(
            f"the generator gave only {inserted} of {count} clockings "
            f"({people} people, {SEED_MAX_DAYS} days)"
        )
    return SeededTenant(tenant, info.id, client.client_id, client.client_secret, inserted,
                        first_date, last_date)


# --- the server -----------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _chronodelta_command() -> list[str]:
    """``chronodelta`` as a script run by this interpreter (so cProfile can wrap it)."""
    script = Path(sys.executable).parent / "chronodelta"
    if not script.is_file():
        found = shutil.which("chronodelta")
        if found is None:
            raise BenchmarkError("the chronodelta command is not installed (pip install -e .)")
        script = Path(found)
    return [str(script)]


class BenchServer:
    """``chronodelta serve --workers 1`` on a free loopback port, as a subprocess.

    ``profile_to``: run the server under cProfile (every thread, see ``_profiled.py``);
    the profile is written to that path when the server stops.
    """

    def __init__(
        self,
        database_url: str,
        *,
        page_size: int | None = None,
        profile_to: Path | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.database_url = database_url
        self.page_size = page_size
        self.profile_to = profile_to
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.port = free_port()
        self._process: subprocess.Popen[str] | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._events: queue.Queue[str | None] = queue.Queue()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def output(self) -> str:
        """The last lines the server wrote (stdout and stderr), for error messages."""
        return "".join(self._lines)

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("the server is already running")
        python = [sys.executable]
        if self.profile_to is not None:  # cProfile in every thread (see _profiled.py)
            python += [str(Path(__file__).with_name("_profiled.py")), str(self.profile_to)]
        command = [
            *python, *_chronodelta_command(), "serve",
            "--workers", "1", "--host", HOST, "--port", str(self.port),
        ]  # fmt: skip
        env = {**os.environ, DATABASE_URL_ENV: self.database_url}
        if self.page_size is not None:
            env[PAGE_SIZE_ENV] = str(self.page_size)
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env,
        )  # fmt: skip
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _drain(self) -> None:
        """Read the server's output for as long as it runs, so its pipe never fills."""
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.append(line)
            if READY_LINE in line:
                self._events.put(line)
        self._events.put(None)  # end of output: the process has exited

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchmarkError(
                    f"the server did not start within {self.startup_timeout:.0f} s:\n{self.output}"
                )
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is None:
                raise BenchmarkError(f"the server exited while starting:\n{self.output}")
            return

    def stop(self) -> None:
        """Stop gracefully (uvicorn shuts down on SIGINT; cProfile then writes out)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- clients and figures -----------------------------------------------------------------


def http_client(base_url: str) -> httpx.Client:
    """One persistent (keep-alive) client, as an integration would use."""
    return httpx.Client(base_url=base_url, headers={"User-Agent": USER_AGENT}, timeout=60.0)


def fetch_token(http: httpx.Client, tenant: SeededTenant, scopes: Sequence[Scope]) -> str:
    response = http.post(
        f"/tenants/{tenant.name}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": " ".join(s.value for s in scopes),
        },
    )
    if response.status_code != 200:
        raise BenchmarkError(f"token request failed ({response.status_code}): {response.text}")
    token: str = orjson.loads(response.content)["access_token"]
    return token


LATENCY_METRIC = "chronodelta_http_request_duration_seconds"


def server_seconds(http: httpx.Client, route: str, method: str = "GET") -> float:
    """The server's own total time on ``route`` so far, from its ``/metrics``.

    That is the latency histogram's sum, measured by the request middleware: routing,
    authentication, the handler and serialization, not uvicorn's HTTP parsing or the
    network. Read it before and after a walk; the difference is the walk's share.
    """
    response = http.get("/metrics")
    if response.status_code != 200:
        raise BenchmarkError(f"/metrics answered {response.status_code}")
    prefix = f"{LATENCY_METRIC}_sum{{"
    labels = (f'method="{method}"', f'route="{route}"')
    for line in response.text.splitlines():
        if line.startswith(prefix) and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0  # no request on that route yet


def check_ids(ids: Sequence[int], expected: int, what: str) -> None:
    """Fail loudly unless ``ids`` are exactly ``expected`` distinct records."""
    distinct = len(set(ids))
    if len(ids) != expected or distinct != expected:
        raise BenchmarkError(
            f"{what}: got {len(ids)} records ({distinct} distinct ids), expected {expected}"
        )
