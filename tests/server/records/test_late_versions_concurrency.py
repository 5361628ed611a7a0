"""Many clocking writers at once, over real HTTP (SQLite with one worker, PostgreSQL
with two), all writing the same person-day at the same moment.

Issue 14, item 1: writes take the tenant's version lock last, so on PostgreSQL they
overlap; the test asks for "many concurrent writers on PostgreSQL whose delta mirror
equals the list, and whose totals equal a from-scratch recalculation when the writers
hit the same person-days at once (two writers recalculating one person-day must not
both miss the other's clocking)". Each round, every writer waits at a barrier and then
writes the round's person-day; then half of them move their clocking to another day
of the same ISO week (so running sums overlap) and every third round some delete.
Delta readers of clockings and of the three totals collections start before the first
write and follow throughout; at the end each mirror equals the list, and a from-scratch
recalculation (``recalculate_tenant``) finds nothing to change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from chronodelta.domain import API_PREFIX
from chronodelta.server import recalculate_tenant
from chronodelta.storage import create_engine, tables
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli
from tests.server.totals import calculated

TODAY = "2026-01-20"
SINCE, UNTIL = "2026-01-01", "2026-01-31"
# One ISO week (Monday 12 to Sunday 18 January): a write on one day rewrites the
# running sums of the later ones, so writers of different days meet there too.
DAYS = ("2026-01-12", "2026-01-13", "2026-01-15")
PEOPLE = (1, 2)
WRITERS, ROUNDS = 8, 6
COLLECTIONS = ("clockings", "paid-presences", "activity-durations", "calculated-totals")
USER_AGENT = {"User-Agent": "LateVersions/1.0 (Acme)"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return new_database_url(request, request.param, tmp_path)


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    workers = "2" if database_url.startswith("postgresql") else "1"
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "40"}
    with ServerProcess(database_url, args=["--workers", workers], env=env) as process:
        yield process.base_url


@dataclass
class Log:
    statuses: list[tuple[str, int]] = field(default_factory=list)
    created: list[int] = field(default_factory=list)

    def check(self, what: str, response: httpx.Response) -> httpx.Response:
        self.statuses.append((what, response.status_code))
        return response


def writer(base_url: str, auth: dict[str, str], number: int, gate: threading.Barrier,
           log: Log) -> None:  # fmt: skip
    clockings = f"{API_PREFIX}/clockings"
    with httpx.Client(base_url=base_url, headers=USER_AGENT, timeout=120) as http:
        for round_ in range(ROUNDS):
            body = {
                "person": {"id": PEOPLE[round_ % len(PEOPLE)]},
                "date": DAYS[round_ % len(DAYS)],
                "timeOfDayInMinutes": 420 + 45 * number,
                "kind": "InOut",
            }
            gate.wait()  # every writer writes this person-day at once
            created = log.check("create", http.post(clockings, json=body, headers=auth))
            gate.wait()
            if created.status_code != 201:
                continue
            log.created.append(created.json()["id"])
            target = f"{clockings}/{created.json()['id']}"
            if number % 2:
                moved = {**body, "date": DAYS[(round_ + 1) % len(DAYS)]}
                log.check("update", http.put(target, json=moved, headers=auth))
            elif round_ % 3 == 2:
                log.check("delete", http.delete(target, headers=auth))


@dataclass
class Reader:
    """A delta mirror of one collection, started before the writers."""

    collection: str
    log: Log = field(default_factory=Log)
    mirror: dict[int, dict[str, Any]] = field(default_factory=dict)
    link: str = ""

    def start(self, http: httpx.Client, auth: dict[str, str]) -> None:
        url: str | None = f"{API_PREFIX}/{self.collection}?delta&filter=date ge '{SINCE}'"
        while url is not None:
            page = self.log.check("snapshot", http.get(url, headers=auth)).json()
            self.mirror.update({r["id"]: r for r in page["value"]})
            url, self.link = page.get("nextLink"), page.get("deltaLink", "")

    def follow(self, http: httpx.Client, auth: dict[str, str]) -> None:
        body = self.log.check("delta", http.get(self.link, headers=auth)).json()
        for change in body["value"]:
            data = change["data"]
            known = self.mirror.get(data["id"])
            if known is not None and known["changeVersion"] > data["changeVersion"]:
                continue  # an older state than the one already applied
            if change["changeType"] == "Delete":
                self.mirror.pop(data["id"], None)
            else:
                self.mirror[data["id"]] = data
        self.link = body["deltaLink"]


def listed(http: httpx.Client, auth: dict[str, str], collection: str) -> dict[int, Any]:
    found: dict[int, Any] = {}
    url: str | None = f"{API_PREFIX}/{collection}?filter=date ge '{SINCE}' and date le '{UNTIL}'"
    while url:
        page = http.get(url, headers=auth)
        assert page.status_code == 200, page.text
        found.update({r["id"]: r for r in page.json()["value"]})
        url = page.json().get("nextLink")
    return found


def committed_version(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            counters = tables.tenant_counters
            return int(
                connection.scalar(
                    sa.select(counters.c.value).where(counters.c.name == "change_version")
                )
                or 0
            )
    finally:
        engine.dispose()


def test_writers_of_one_person_day_at_once_miss_nothing(database_url: str, server: str) -> None:
    client = provision_with_cli(database_url, people=3, days=25, until=TODAY)
    readers = [Reader(collection) for collection in COLLECTIONS]
    writing, log = threading.Event(), Log()
    with httpx.Client(base_url=server, headers=USER_AGENT, timeout=120) as http:
        auth = bearer(http, client)  # one token for all (the token endpoint is not tested here)
        for reader in readers:
            reader.start(http, auth)  # every delta starts before the first write

        def follow_while_writing() -> None:
            with httpx.Client(base_url=server, headers=USER_AGENT, timeout=120) as own:
                while writing.is_set():
                    for reader in readers:
                        reader.follow(own, auth)

        gate = threading.Barrier(WRITERS, timeout=300)
        writers = [
            threading.Thread(target=writer, args=(server, auth, n, gate, log))
            for n in range(WRITERS)
        ]
        following = threading.Thread(target=follow_while_writing)
        writing.set()
        following.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        following.join()
        for reader in readers:
            reader.follow(http, auth)  # everything the writers committed
        served = {collection: listed(http, auth, collection) for collection in COLLECTIONS}

    statuses = log.statuses + [s for r in readers for s in r.log.statuses]
    assert not [s for s in statuses if s[1] >= 500], statuses
    assert {code for _, code in log.statuses} <= {200, 201, 204}, log.statuses
    assert sum(what == "create" for what, _ in log.statuses) == WRITERS * ROUNDS
    assert len(set(log.created)) == WRITERS * ROUNDS <= len(served["clockings"])
    assert set(log.created) <= set(served["clockings"])  # nothing lost, no id twice
    for reader in readers:
        assert reader.mirror == served[reader.collection], reader.collection
    # Totals equal a from-scratch recalculation: it finds nothing to change...
    before = committed_version(database_url)
    engine = create_engine(database_url)
    try:
        recalculate_tenant(engine, "acme")
        with engine.connect() as connection:
            scratch = calculated.from_database(connection, 1)
    finally:
        engine.dispose()
    assert committed_version(database_url) == before
    # ... and the calculated totals are what the rules give from the final clockings.
    expected = {k: v for k, v in scratch.items() if SINCE <= k[1] <= UNTIL}
    assert calculated.without_identity(served["calculated-totals"].values()) == expected
