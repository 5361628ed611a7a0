"""Readers and writers over HTTP while a reset runs (issue 13, item 4; house rule:
"Features that write the database also get a concurrent readers+writers test"), on
SQLite and on PostgreSQL with 2 workers.

The reset is one write transaction, so a reader sees the old state or the new, never
a mix: a single page is one statement, and a list walked across the reset answers
409 (its continuation token remembers the tenant's restore count) and is walked again.
Writers keep writing through the reset: none gets a 5xx, and what each wrote is there
afterwards exactly when it committed after the reset's versions.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from chronodelta.domain import parse_change_version
from chronodelta.testing import ServerProcess

from .sandbox import API, Sandbox, admin, api_client, change_the_data, content, provision, walk

READ_FILTER = "date ge '2026-01-01' and date le '2026-01-31'"  # the seeded days
WRITE_DATE = "2026-03-10"  # outside what the readers read
READERS, WRITERS = 3, 2
PAGE_SIZE = "7"


def read_walk(http: httpx.Client, statuses: list[int]) -> list[dict[str, Any]] | None:
    """A whole list walk of the seeded days; None when a page answered 409 midway."""
    response = http.get(f"{API}/clockings", params={"filter": READ_FILTER})
    records: list[dict[str, Any]] = []
    while True:
        statuses.append(response.status_code)
        if response.status_code == 409:
            assert "reset or restored" in response.text, response.text
            return None
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["value"]
        if "nextLink" not in page:
            return content(records)
        response = http.get(page["nextLink"])


def test_readers_see_one_state_whole_and_writers_lose_nothing(
    engine: Engine, database_url: str
) -> None:
    sandbox = provision(engine, database_url)
    with sandbox.server({"CHRONODELTA_PAGE_SIZE": PAGE_SIZE}) as server:
        with api_client(server, sandbox.fresh) as fresh, api_client(server, sandbox.acme) as acme:
            seeded = read_walk(fresh, [])
            change_the_data(acme)
            changed = read_walk(acme, [])
        assert seeded is not None and changed is not None and seeded != changed
        assert len(seeded) > 2 * int(PAGE_SIZE)  # walks span pages
        run = _Run(server, sandbox)
        with ThreadPoolExecutor(READERS + WRITERS) as pool:
            readers = [pool.submit(run.reader) for _ in range(READERS)]
            writers = [pool.submit(run.writer, n) for n in range(WRITERS)]
            run.warm.wait(timeout=120)
            with admin(server, sandbox) as operator:
                reset = operator.post("/admin/tenants/acme/reset")
            assert reset.status_code == 200, reset.text
            run.after_reset.set()
            walks = [w for future in readers for w in future.result()]
            written = [c for future in writers for c in future.result()]
        with api_client(server, sandbox.acme) as acme:
            final = walk(acme, "clockings", f"date eq '{WRITE_DATE}'")
    assert not [s for s in run.statuses if s >= 500], run.statuses
    assert walks and all(w in (changed, seeded) for w in walks)
    assert changed in walks and seeded in walks  # readers ran on both sides of it
    versions = reset.json()["changeVersions"]
    first, last = (parse_change_version(versions[k]) for k in ("first", "last"))
    # By id and version: a reset hands out the seeded state's ids again (docs/sandbox.md).
    kept = {(c["id"], c["changeVersion"]) for c in final}
    assert len(kept) == len(final)
    for clocking in written:
        version = parse_change_version(clocking["changeVersion"])
        assert version < first or version > last
        present = (clocking["id"], clocking["changeVersion"]) in kept
        assert present == (version > last), clocking
    assert len(kept) == sum(parse_change_version(c["changeVersion"]) > last for c in written)


class _Run:
    def __init__(self, server: ServerProcess, sandbox: Sandbox) -> None:
        self.server, self.sandbox = server, sandbox
        self.statuses: list[int] = []
        self.after_reset = threading.Event()
        self.warm = threading.Event()
        self._lock = threading.Lock()
        self._warmed = 0

    def _warmed_up(self) -> None:
        with self._lock:
            self._warmed += 1
            if self._warmed == READERS + WRITERS:
                self.warm.set()

    def reader(self) -> list[list[dict[str, Any]]]:
        walks: list[list[dict[str, Any]]] = []
        after = 0  # whole walks begun after the reset answered
        with api_client(self.server, self.sandbox.acme) as http:
            while after < 2:
                begun_after = self.after_reset.is_set()
                done = read_walk(http, self.statuses)
                if done is not None:
                    walks.append(done)
                    after += begun_after
                if len(walks) == 1 and done is not None:
                    self._warmed_up()
        return walks

    def writer(self, number: int) -> list[dict[str, Any]]:
        written: list[dict[str, Any]] = []
        after = 0
        with api_client(self.server, self.sandbox.acme) as http:
            for minute in range(24 * 60):
                begun_after = self.after_reset.is_set()
                response = http.post(
                    f"{API}/clockings",
                    json={
                        "person": {"id": 1 + number},
                        "date": WRITE_DATE,
                        "timeOfDayInMinutes": minute,
                        "kind": "InOut",
                    },
                )
                self.statuses.append(response.status_code)
                assert response.status_code == 201, response.text
                written.append(response.json())
                if minute == 0:
                    self._warmed_up()
                after += begun_after
                if after == 3:
                    break
        return written
