"""Concurrent clocking writers and calculated-totals delta readers over real HTTP
(SQLite with one worker, PostgreSQL with two): no 5xx, and at the end each reader's
mirror equals the list, which equals a recalculation from scratch of the final
clockings (guide: "every feature that reads or writes the database is tested over
real HTTP with concurrent writers and readers").

The writers work on the same few people and on days of the ISO week that holds the
turn of the year, so that their writes' running sums overlap (a write on 30 December
rewrites the days after it up to Sunday 4 January).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.domain import API_PREFIX
from chronodelta.storage import create_engine
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli
from tests.server.totals import calculated

TOTALS = f"{API_PREFIX}/calculated-totals"
CLOCKINGS = f"{API_PREFIX}/clockings"
TODAY = "2026-01-20"
SINCE = "2025-12-01"
DAYS = ("2025-12-29", "2025-12-31", "2026-01-01", "2026-01-02", "2026-01-04", "2026-01-05")
PEOPLE = (1, 2, 3)
WRITERS, WRITES_PER_WRITER, READERS = 3, 24, 2
USER_AGENT = {"User-Agent": "Concurrency/1.0 (Acme)"}


@dataclass
class Log:
    """Every response's status, from every thread (list.append is atomic)."""

    statuses: list[tuple[str, int]] = field(default_factory=list)

    def check(self, what: str, response: httpx.Response) -> httpx.Response:
        self.statuses.append((what, response.status_code))
        return response


def new_client(database_url: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["clients", "create", "--tenant", "acme", "--json", "--database", database_url]
    )
    assert result.exit_code == 0, result.output
    created: dict[str, Any] = json.loads(result.output)
    return created


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return new_database_url(request, request.param, tmp_path)


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    workers = "2" if database_url.startswith("postgresql") else "1"
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "30"}
    with ServerProcess(database_url, args=["--workers", workers], env=env) as process:
        yield process.base_url


def writer(base_url: str, client: dict[str, Any], seed: int, log: Log) -> None:
    rng = random.Random(seed)
    mine: list[int] = []
    with httpx.Client(base_url=base_url, headers=USER_AGENT, timeout=60) as http:
        auth = bearer(http, client)
        for _ in range(WRITES_PER_WRITER):
            body = {
                "person": {"id": rng.choice(PEOPLE)},
                "date": rng.choice(DAYS),
                "timeOfDayInMinutes": rng.choice([450, 480, 720, 750, 990, 1080, 1200]),
                "kind": "InOut",
            }
            action = rng.random()
            if action < 0.5 or not mine:
                response = log.check("create", http.post(CLOCKINGS, json=body, headers=auth))
                if response.status_code == 201:
                    mine.append(response.json()["id"])
            elif action < 0.8:
                target = rng.choice(mine)
                log.check("update", http.put(f"{CLOCKINGS}/{target}", json=body, headers=auth))
            else:
                target = mine.pop(rng.randrange(len(mine)))
                log.check("delete", http.delete(f"{CLOCKINGS}/{target}", headers=auth))


@dataclass
class Reader:
    base_url: str
    client: dict[str, Any]
    log: Log
    mirror: dict[int, dict[str, Any]] = field(default_factory=dict)
    link: str = ""
    reads: int = 0

    def start(self, http: httpx.Client, auth: dict[str, str]) -> None:
        url: str | None = f"{TOTALS}?delta&filter=date ge '{SINCE}'"
        while url is not None:
            page = self.log.check("snapshot", http.get(url, headers=auth)).json()
            self.mirror.update({r["id"]: r for r in page["value"]})
            url, self.link = page.get("nextLink"), page.get("deltaLink", "")

    def follow(self, http: httpx.Client, auth: dict[str, str]) -> None:
        body = self.log.check("delta", http.get(self.link, headers=auth)).json()
        for change in body["value"]:
            data, known = change["data"], self.mirror.get(change["data"]["id"])
            if known is not None and known["changeVersion"] > data["changeVersion"]:
                continue  # an older state than the one already applied
            if change["changeType"] == "Delete":
                self.mirror.pop(data["id"], None)
            else:
                self.mirror[data["id"]] = data
        self.link = body["deltaLink"]
        self.reads += 1

    def run(self, writing: threading.Event, started: threading.Barrier) -> None:
        with httpx.Client(base_url=self.base_url, headers=USER_AGENT, timeout=60) as http:
            auth = bearer(http, self.client)
            self.start(http, auth)
            started.wait()
            while writing.is_set():
                self.follow(http, auth)
            self.follow(http, auth)  # everything the writers committed


def test_writers_and_delta_readers_agree_with_a_recalculation(
    database_url: str, server: str
) -> None:
    writer_client = provision_with_cli(database_url, people=4, days=25, until=TODAY)
    readers = [Reader(server, new_client(database_url), Log()) for _ in range(READERS)]
    log, writing = Log(), threading.Event()
    writing.set()
    started = threading.Barrier(READERS + 1, timeout=300)  # a reader that fails cannot hang it
    reading = [threading.Thread(target=r.run, args=(writing, started)) for r in readers]
    for thread in reading:
        thread.start()
    started.wait()  # every reader holds its deltaLink before the first write
    writing_threads = [
        threading.Thread(target=writer, args=(server, writer_client, n, log))
        for n in range(WRITERS)
    ]
    for thread in writing_threads:
        thread.start()
    for thread in writing_threads:
        thread.join()
    writing.clear()
    for thread in reading:
        thread.join()

    statuses = log.statuses + [s for r in readers for s in r.log.statuses]
    assert not [s for s in statuses if s[1] >= 500], statuses
    assert {code for what, code in log.statuses} <= {200, 201, 204}, log.statuses
    assert all(code == 200 for r in readers for _, code in r.log.statuses)
    assert len(log.statuses) == WRITERS * WRITES_PER_WRITER
    with httpx.Client(base_url=server, headers=USER_AGENT) as http:
        auth = bearer(http, writer_client)
        listed, url = {}, f"{TOTALS}?filter=date ge '{SINCE}' and date le '2026-01-31'"
        while url:
            page = http.get(url, headers=auth).json()
            listed.update({r["id"]: r for r in page["value"]})
            url = page.get("nextLink")
    for reader in readers:
        assert reader.reads >= 2 and reader.mirror == listed
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            scratch = calculated.from_database(connection, 1)
    finally:
        engine.dispose()
    expected = {k: v for k, v in scratch.items() if SINCE <= k[1] <= "2026-01-31"}
    assert calculated.without_identity(listed.values()) == expected
