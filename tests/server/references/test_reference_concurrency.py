"""Custom references written while others read records by them, over real HTTP with two
server workers, on SQLite and PostgreSQL (issue 11, item 7; contract, "External
references": "a value names one record per collection and name").

Writers move a custom reference of their own person through successive values, and
now and then try to take another writer's value (200 if it was free, else 409);
readers address people by the values they saw acknowledged, and list people with the
reference. No answer may be a 5xx, a read by value may only find a person that a
write acknowledged with that value, a list page never shows one value twice, and at
the end every writer's last value names its person.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronodelta.domain import API_PREFIX
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

NAME = "syncKey"
WRITERS = 4
READERS = 4
ROUNDS = 30
PEOPLE = f"{API_PREFIX}/people"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    url = new_database_url(request, request.param, tmp_path)
    client = provision_with_cli(url, people=12, days=2, until="2026-01-20")
    with ServerProcess(url, args=["--workers", "2"], env={"CHRONODELTA_PAGE_SIZE": "5"}) as live:
        with httpx.Client(
            base_url=live.base_url, headers={"User-Agent": "Race/1.0 (Acme)"}
        ) as http:
            auth = bearer(http, client)
        yield live.base_url, auth


@dataclass
class Record:
    """What the threads saw; every list is appended to under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: set[tuple[int, str]] = field(default_factory=set)
    recent: list[str] = field(default_factory=list)
    found: list[tuple[int, str]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[Any] = field(default_factory=list)
    last: dict[int, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # a thread's assert would not fail


def put(http: httpx.Client, auth: dict[str, str], person: int, value: str) -> httpx.Response:
    return http.put(
        f"{PEOPLE}/{person}/external-references/{NAME}", json={"value": value}, headers=auth
    )


def guarded(work: Any, record: Record, *args: Any) -> None:
    """Run a thread's work; an exception becomes a problem the test reports."""
    try:
        work(*args)
    except Exception as exc:  # reported by the test, as a problem
        with record.lock:
            record.problems.append(f"{work.__name__}: {exc!r}")


def writer(
    base: str, auth: dict[str, str], person: int, record: Record, start: threading.Barrier
) -> None:
    rng = random.Random(person)
    with httpx.Client(base_url=base, headers={"User-Agent": "Race/1.0 (Acme)"}) as http:
        start.wait()
        for round_ in range(ROUNDS):
            value = f"P{person}-{round_}"
            if round_ % 5 == 4:  # try to take a value another writer was seen with
                with record.lock:
                    value = rng.choice(record.recent)
            response = put(http, auth, person, value)
            with record.lock:
                record.statuses.append(("PUT", response.status_code))
                if response.status_code == 200:
                    if response.json()["externalReferences"][NAME] != value:
                        record.problems.append(f"PUT {value} answered {response.text}")
                    record.acknowledged.add((person, value))
                    record.recent.append(value)
                    record.last[person] = value


def reader(
    base: str,
    auth: dict[str, str],
    record: Record,
    start: threading.Barrier,
    done: threading.Event,
    seed: int,
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, headers={"User-Agent": "Race/1.0 (Acme)"}) as http:
        start.wait()
        while not done.is_set():
            with record.lock:
                value = rng.choice(record.recent)
            response = http.get(
                f"{PEOPLE}/{value}", params={"externalReferences": f"(people,{NAME})"}, headers=auth
            )
            with record.lock:
                record.statuses.append(("GET", response.status_code))
                if response.status_code == 200:
                    body = response.json()
                    if body["externalReferences"] != {NAME: value}:
                        record.problems.append(f"GET {value} answered {response.text}")
                    record.found.append((body["id"], value))
            page = http.get(PEOPLE, params={"externalReferences": f"(people,{NAME})"}, headers=auth)
            with record.lock:
                record.statuses.append(("LIST", page.status_code))
                if page.status_code == 200:
                    values = [
                        p["externalReferences"][NAME]
                        for p in page.json()["value"]
                        if "externalReferences" in p
                    ]
                    if len(set(values)) != len(values):
                        record.duplicates.append(values)


def test_custom_reference_writes_and_reads_by_reference_race_safely(
    server: tuple[str, dict[str, str]],
) -> None:
    base, auth = server
    record = Record()
    with httpx.Client(base_url=base, headers={"User-Agent": "Race/1.0 (Acme)"}) as http:
        for person in range(1, WRITERS + 1):  # the name must be known before it is read
            assert put(http, auth, person, f"P{person}-start").status_code == 200
            record.acknowledged.add((person, f"P{person}-start"))
            record.recent.append(f"P{person}-start")
    start = threading.Barrier(WRITERS + READERS)
    done = threading.Event()
    writers = [
        threading.Thread(target=guarded, args=(writer, record, base, auth, person, record, start))
        for person in range(1, WRITERS + 1)
    ]
    readers = [
        threading.Thread(
            target=guarded, args=(reader, record, base, auth, record, start, done, seed)
        )
        for seed in range(READERS)
    ]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert record.problems == []
    assert not [s for s in record.statuses if s[1] >= 500], record.statuses
    assert {status for method, status in record.statuses if method == "PUT"} <= {200, 409}
    assert {status for method, status in record.statuses if method == "GET"} <= {200, 404}
    assert {status for method, status in record.statuses if method == "LIST"} == {200}
    assert sum(method == "GET" for method, _ in record.statuses) >= READERS
    assert set(record.found) <= record.acknowledged  # never another person's value
    assert record.found, "no read found a record by its reference"
    assert record.duplicates == []
    with httpx.Client(base_url=base, headers={"User-Agent": "Race/1.0 (Acme)"}) as http:
        for person in range(1, WRITERS + 1):  # nothing lost: the last value holds
            value = record.last.get(person, f"P{person}-start")
            response = http.get(
                f"{PEOPLE}/{value}", params={"externalReferences": f"(people,{NAME})"}, headers=auth
            )
            assert response.status_code == 200, response.text
            assert response.json()["id"] == person
