"""GUID activity levels under concurrent writers and readers, over real HTTP.

Seed 003: ``activityLevels.activityDefinition.id`` is a string (a GUID). Writers post
Activity clockings naming their definitions by GUID or by ``@data-entry-code`` while
readers walk a structure level's definitions (contract, "Fidelity") and the activity
durations; no answer is a 5xx or cut, and every write is listed with its GUIDs, its
durations calculated in the same transaction. SQLite (one worker) and PostgreSQL (two).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronodelta.domain import API_PREFIX, is_guid
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

TODAY = "2026-01-20"
SUNDAYS = ("2026-01-04", "2026-01-11", "2026-01-18")  # the demo data works no Sundays
WRITERS, READERS = 3, 2
CLOCKINGS = f"{API_PREFIX}/clockings"
DURATIONS = f"{API_PREFIX}/activity-durations"
JANUARY = "date ge '2026-01-01' and date le '2026-01-31'"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    url = new_database_url(request, request.param, tmp_path)
    client = provision_with_cli(url, people=WRITERS, days=30, until=TODAY)
    workers = ["--workers", "2"] if request.param == "postgresql" else []
    with ServerProcess(url, args=workers, env={"CHRONODELTA_TODAY": TODAY}) as process:
        yield process.base_url, client


def session(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"User-Agent": "Guids/1.0 (Acme)"}, timeout=60)


def walk(http: httpx.Client, url: str, auth: dict[str, str], failures: list[str]) -> list[Any]:
    records: list[Any] = []
    link: str | None = url
    while link is not None:
        response = http.get(link, headers=auth)
        if response.status_code != 200:
            failures.append(f"GET {link}: {response.status_code} {response.text[:200]}")
            return records
        page = response.json()  # a cut body would not decode
        records += page["value"]
        link = page.get("nextLink")
    return records


def day_of(person: int, date: str, project: dict[str, Any], task: dict[str, Any]) -> list[Any]:
    """in, Activity (the project by GUID, the task by data entry code), end, out."""
    levels = [
        {"level": 1, "activityDefinition": {"id": project["id"]}},
        {"level": 2,
         "activityDefinition": {"externalReferences": {"@data-entry-code": task["dataEntryCode"]}}},
    ]  # fmt: skip
    base = {"person": {"id": person}, "date": date}
    return [
        {**base, "timeOfDayInMinutes": 480, "kind": "InOut"},
        {**base, "timeOfDayInMinutes": 482, "kind": "Activity", "activityLevels": levels},
        {**base, "timeOfDayInMinutes": 900, "kind": "ActivityEnd"},
        {**base, "timeOfDayInMinutes": 990, "kind": "InOut"},
    ]


def test_guid_activity_levels_under_concurrent_writes_and_reads(server: tuple[str, Any]) -> None:
    base_url, client = server
    with session(base_url) as http:
        auth = bearer(http, client)
        definitions = walk(http, f"{API_PREFIX}/activity-definitions", auth, [])
    by_id = {d["id"]: d for d in definitions}
    tasks = [d for d in definitions if d["level"] == 2 and "activeUntil" not in d]
    level_two = (
        f"{API_PREFIX}/activity-structure-versions/{tasks[0]['structureVersion']}"
        "/levels/2/activity-definitions"
    )
    failures: list[str] = []
    written: dict[tuple[int, str], dict[str, Any]] = {}
    done = threading.Event()

    def write(writer: int) -> None:
        with session(base_url) as http:
            for round_number, date in enumerate(SUNDAYS):
                task = tasks[(writer * len(SUNDAYS) + round_number) % len(tasks)]
                for body in day_of(writer + 1, date, by_id[task["parent"]["id"]], task):
                    response = http.post(CLOCKINGS, json=body, headers=auth)
                    if response.status_code != 201:
                        failures.append(f"POST: {response.status_code} {response.text[:200]}")
                written[(writer + 1, date)] = task

    def read() -> None:
        with session(base_url) as http:
            while not done.is_set():
                listed = walk(http, level_two, auth, failures)
                if {d["id"] for d in listed} != {d["id"] for d in tasks}:
                    failures.append("the structure level changed under writes")
                durations = walk(http, f"{DURATIONS}?filter={JANUARY}", auth, failures)
                for record in durations:
                    for level in record.get("activityLevels", ()):
                        if not is_guid(level["activityDefinition"]["id"]):
                            failures.append(f"not a GUID: {level}")

    with ThreadPoolExecutor(WRITERS + READERS) as pool:
        readers = [pool.submit(read) for _ in range(READERS)]
        for writer in [pool.submit(write, n) for n in range(WRITERS)]:
            writer.result()
        done.set()
        for reader in readers:
            reader.result()
    assert not failures, failures[:5]
    with session(base_url) as http:
        clockings = walk(http, f"{CLOCKINGS}?filter={JANUARY}", auth, failures)
        durations = walk(http, f"{DURATIONS}?filter={JANUARY}", auth, failures)
    for (person, date), task in written.items():
        path = [task["parent"]["id"], task["id"]]
        booked = [
            [lv["activityDefinition"]["id"] for lv in c["activityLevels"]]
            for c in clockings
            if (c["person"]["id"], c["date"], c["kind"]) == (person, date, "Activity")
        ]
        assert booked == [path], (person, date)
        totals = [
            d["durationInMinutes"]
            for d in durations
            if (d["person"]["id"], d["date"]) == (person, date)
            and [lv["activityDefinition"]["id"] for lv in d.get("activityLevels", ())] == path
        ]
        assert totals == [418], (person, date)
    assert len(written) == WRITERS * len(SUNDAYS)
