"""What every benchmark needs: a migrated database, a seeded tenant, a real server.

* :func:`migrated_database` gives the URL of a fresh, migrated database: a SQLite file
  in a temporary directory, or a database in a :class:`ThrowawayPostgres` cluster.
  Everything is deleted afterwards. :func:`migrated_databases` gives several at once
  (SQLite files in one directory, or databases in one cluster).
* :func:`seed_clockings` creates a tenant, an API client (read-only unless ``scopes``
  says otherwise) and exactly ``count`` realistic clockings (the demo generator, cut
  to ``count``), all within one year so that a single list filter selects them all.
* :func:`bench_server` is a :class:`chronodelta.testing.ServerProcess` running
  ``chronodelta serve --workers 1`` on a free loopback port (ready when uvicorn logs
  "Application startup complete", no sleeps), optionally under cProfile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import orjson

from chronodelta.demo import generate_clockings, generate_reference_data
from chronodelta.domain import ClockingDraft, Scope
from chronodelta.server import create_client, create_tenant, insert_clockings, insert_reference_data
from chronodelta.storage import create_engine, upgrade
from chronodelta.testing import ServerProcess, ThrowawayPostgres

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")

USER_AGENT = "chronodelta-bench/1.0 (chronodelta)"
PAGE_SIZE_ENV = "CHRONODELTA_PAGE_SIZE"

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
    with migrated_databases(backend, ["bench"]) as urls:
        yield urls["bench"]


@contextmanager
def migrated_databases(backend: Backend, names: Sequence[str]) -> Iterator[dict[str, str]]:
    """Fresh, migrated databases of ``backend`` by name (their URLs), deleted afterwards.

    SQLite: one file each in one temporary directory. PostgreSQL: one database each in
    one throwaway cluster.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chronodelta-bench-") as directory:
            urls = {name: f"sqlite:///{Path(directory) / name}.db" for name in names}
            for url in urls.values():
                migrate(url)
            yield urls
    elif backend == "postgresql":
        with ThrowawayPostgres() as cluster:
            urls = {name: cluster.create_database(name) for name in names}
            for url in urls.values():
                migrate(url)
            yield urls
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


def bench_server(
    database_url: str,
    *,
    page_size: int | None = None,
    env: Mapping[str, str] | None = None,
    profile_to: Path | None = None,
    free_pages: bool = False,
) -> ServerProcess:
    """``chronodelta serve --workers 1`` on a free loopback port (use it with ``with``).

    ``page_size`` sets ``CHRONODELTA_PAGE_SIZE``; ``env`` adds other settings.
    ``profile_to``: run the server under cProfile (every thread, see ``_profiled.py``);
    the profile is written to that path when the server stops. ``free_pages``: keep
    every list page once built (``_free_pages.py``), to measure the request path alone.
    """
    settings = {PAGE_SIZE_ENV: str(page_size)} if page_size is not None else {}
    launcher: list[str] = []
    if profile_to is not None:
        launcher = [str(Path(__file__).with_name("_profiled.py")), str(profile_to)]
    elif free_pages:
        launcher = [str(Path(__file__).with_name("_free_pages.py"))]
    return ServerProcess(
        database_url, args=["--workers", "1"], env={**settings, **(env or {})}, launcher=launcher
    )


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


def db_label(backend: Backend) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
