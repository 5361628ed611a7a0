"""Console writes while API clients read and write the same person-day (issue 13,
item 5, and the guide: "every feature that reads or writes the database is tested over
real HTTP with concurrent writers and readers"), on both databases: no 5xx, nothing
lost, and the totals the console shows are the API's.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import API, Console, Sandbox, csrf_of

PERSON, DATE = 4, dt.date(2026, 1, 27)
WRITES = 6  # per writer
DAY_FILTER = {"filter": f"date eq '{DATE}' and person eq {PERSON}"}


def test_console_and_api_writers_and_readers_at_once(sandbox: Sandbox) -> None:
    # Sessions and tokens first, one after another: logins and token requests each run
    # an argon2id check, of which a worker runs two at once (a crowd would get 429).
    consoles = [sandbox.console() for _ in range(3)]
    apis = [sandbox.api() for _ in range(3)]
    start = threading.Barrier(6, timeout=120)  # a thread that fails breaks it for all
    statuses: list[int] = []
    created: list[int] = []  # clocking ids, from the console's redirects and the API's 201s
    lock = threading.Lock()

    def record(status: int, clocking: int | None = None) -> None:
        with lock:
            statuses.append(status)
            if clocking is not None:
                created.append(clocking)

    def console_writer(console: Console, minute: int) -> None:
        page = console.get("/console/tenants/acme/day", person=str(PERSON), date=str(DATE))
        token = csrf_of(page.text)
        start.wait()
        for n in range(WRITES):
            response = console.http.post(
                "/console/tenants/acme/clockings",
                data={"csrf": token, "person": str(PERSON), "date": str(DATE),
                      "time": f"{8 + n:02d}:{minute:02d}", "kind": "InOut"},
            )  # fmt: skip
            found = re.search(r"[?&]id=(\d+)", response.headers.get("location", ""))
            record(response.status_code, int(found.group(1)) if found else None)

    def api_writer(api: httpx.Client, minute: int) -> None:
        start.wait()
        for n in range(WRITES):
            response = api.post(
                f"{API}/clockings",
                json={"person": {"id": PERSON}, "date": str(DATE),
                      "timeOfDayInMinutes": (12 + n) * 60 + minute, "kind": "InOut"},
            )  # fmt: skip
            record(response.status_code, response.json().get("id"))

    def api_reader(api: httpx.Client) -> None:
        start.wait()
        for _ in range(WRITES):
            record(api.get(f"{API}/clockings", params=DAY_FILTER).status_code)
            record(api.get(f"{API}/paid-presences", params=DAY_FILTER).status_code)

    def console_reader(console: Console) -> None:
        start.wait()
        for _ in range(WRITES):
            page = console.get("/console/tenants/acme/day", person=str(PERSON), date=str(DATE))
            record(page.status_code)

    jobs: list[Callable[[], None]] = [
        lambda: console_writer(consoles[0], 5), lambda: console_writer(consoles[1], 35),
        lambda: api_writer(apis[0], 10), lambda: api_writer(apis[1], 40),
        lambda: api_reader(apis[2]), lambda: console_reader(consoles[2]),
    ]  # fmt: skip
    with ThreadPoolExecutor(len(jobs)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result(timeout=300)
    for console in consoles:
        console.close()
    for api in apis:
        api.close()

    assert not [s for s in statuses if s >= 500], statuses
    assert sorted(set(statuses)) == [200, 201, 303], statuses
    assert len(created) == len(set(created)) == 4 * WRITES
    with sandbox.api() as api:
        stored = api.get(f"{API}/clockings", params=DAY_FILTER).json()["value"]
        presences = api.get(f"{API}/paid-presences", params=DAY_FILTER).json()["value"]
    assert sorted(c["id"] for c in stored) == sorted(created)  # nothing lost
    console = sandbox.console()
    page = console.get("/console/tenants/acme/day", person=str(PERSON), date=str(DATE)).text
    for clocking in created:
        assert f'data-clocking="{clocking}"' in page
    shown = re.findall(r'class="duration">([^<]*)<', page.split('id="paid-presences"')[1])[:1]
    minutes = [p["durationInMinutes"] for p in presences]
    assert shown == [f"{m // 60:02d}:{m % 60:02d}" for m in minutes]
    console.close()
    assert httpx.get(sandbox.server.base_url + "/healthz").status_code == 200
