"""List walks served by read-ahead while writers write, over real HTTP, on SQLite and
PostgreSQL with two workers (issue 14, item 2; ``server/records/_read_ahead.py``).

Walkers walk the clockings list again and again (one keep-alive client each, so their
pages are read ahead on one worker) while writers create clockings and move their
times, and an operator moves a person in and out of an org group that another walker
filters by. Every answer is a 200 or 201 with a whole JSON body; no walk repeats a
record or misses one committed before it began (a time change keeps a record's
(date, id) place); read-ahead served pages; and a walk after the writers equals the
database row for row, change versions included, so no page of an older state survived,
and is served from pages read ahead.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from chronodelta.domain import API_PREFIX, format_change_version
from chronodelta.server import place_in_org_group
from chronodelta.storage import create_engine, read_transaction, tables
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

TODAY = "2026-01-20"
SINCE, UNTIL = "2026-01-11", "2026-01-20"
FILTER = f"date ge '{SINCE}' and date le '{UNTIL}'"
CLOCKINGS = f"{API_PREFIX}/clockings"
WRITERS, WRITES, WALKERS, WALKS = 3, 12, 2, 4
USER_AGENT = {"User-Agent": "ReadAhead/1.0 (Acme)"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return new_database_url(request, request.param, tmp_path)


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "20"}
    with ServerProcess(database_url, args=["--workers", "2"], env=env) as process:
        yield process.base_url


@dataclass
class Log:
    statuses: list[tuple[str, int]] = field(default_factory=list)
    committed: set[int] = field(default_factory=set)  # created, their 201 received
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, what: str, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.statuses.append((what, response.status_code))
        return response


def writer(base_url: str, auth: dict[str, str], number: int, log: Log) -> None:
    with httpx.Client(base_url=base_url, headers=USER_AGENT, timeout=120) as http:
        for index in range(WRITES):
            minutes = 300 + 7 * index + number
            body: dict[str, Any] = {
                "person": {"id": 1 + (number + index) % 6},
                "date": f"2026-01-{11 + (number * WRITES + index) % 10:02d}",
                "timeOfDayInMinutes": minutes,
                "kind": "InOut",
            }
            created = log.check("create", http.post(CLOCKINGS, json=body, headers=auth))
            if created.status_code != 201:
                continue
            with log.lock:
                log.committed.add(created.json()["id"])
            moved = {**body, "timeOfDayInMinutes": minutes + 1}
            target = f"{CLOCKINGS}/{created.json()['id']}"
            log.check("update", http.put(target, json=moved, headers=auth))


def walk(http: httpx.Client, auth: dict[str, str], log: Log, filter_text: str) -> list[Any]:
    records: list[Any] = []
    url: str | None = f"{CLOCKINGS}?filter={filter_text}"
    while url is not None:
        page = log.check("walk", http.get(url, headers=auth)).json()  # a whole JSON body
        records += page.get("value", [])
        url = page.get("nextLink")
    return records


def walker(base_url: str, auth: dict[str, str], log: Log, filter_text: str,
           missed: list[str]) -> None:  # fmt: skip
    with httpx.Client(base_url=base_url, headers=USER_AGENT, timeout=120) as http:
        for _ in range(WALKS):
            with log.lock:
                before = set(log.committed)
            ids = [record["id"] for record in walk(http, auth, log, filter_text)]
            if len(ids) != len(set(ids)):
                missed.append(f"a walk repeated records: {len(ids)} ids, {len(set(ids))} distinct")
            if filter_text == FILTER and not before <= set(ids):
                missed.append(f"a walk missed committed clockings {sorted(before - set(ids))}")


def org_mover(database_url: str, stop: threading.Event) -> None:
    engine = create_engine(database_url)
    try:
        member = True
        while not stop.is_set():
            place_in_org_group(engine, "acme", 6, 1 if member else None)
            member = not member
    finally:
        engine.dispose()


def in_database(database_url: str) -> dict[int, str]:
    engine = create_engine(database_url)
    clockings = tables.clockings
    try:
        with read_transaction(engine) as connection:
            rows = connection.execute(
                sa.select(clockings.c.id, clockings.c.change_version).where(
                    clockings.c.date >= dt.date.fromisoformat(SINCE),
                    clockings.c.date <= dt.date.fromisoformat(UNTIL),
                )
            ).all()
    finally:
        engine.dispose()
    return {int(i): format_change_version(int(v)) for i, v in rows}


def read_ahead_hits(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith('chronodelta_page_read_ahead_total{outcome="hit"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_walks_served_by_read_ahead_while_writers_write(server: str, database_url: str) -> None:
    client = provision_with_cli(database_url, people=6, days=10, until=TODAY)
    with httpx.Client(base_url=server, headers=USER_AGENT, timeout=120) as http:
        auth = bearer(http, client)
        log, missed, stop = Log(), list[str](), threading.Event()
        org_filter = f"{FILTER} and person in org-group(1)"
        threads = [
            *(threading.Thread(target=writer, args=(server, auth, n, log)) for n in range(WRITERS)),
            *(
                threading.Thread(target=walker, args=(server, auth, log, FILTER, missed))
                for _ in range(WALKERS)
            ),
            threading.Thread(target=walker, args=(server, auth, log, org_filter, missed)),
        ]
        mover = threading.Thread(target=org_mover, args=(database_url, stop))
        mover.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        mover.join()

        assert {status for _, status in log.statuses} <= {200, 201}, log.statuses
        assert missed == []
        assert len(log.committed) == WRITERS * WRITES
        hits = read_ahead_hits(http)  # while writers write, most pages are stale
        final = {r["id"]: r["changeVersion"] for r in walk(http, auth, log, FILTER)}
        assert final == in_database(database_url)
        assert read_ahead_hits(http) > hits  # a quiet walk is served read ahead
