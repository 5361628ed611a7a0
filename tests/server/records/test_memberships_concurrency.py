"""Org-tree filters under concurrent writers, over real HTTP (SQLite: one worker;
PostgreSQL: two), issue 11, item 5.

Writers create and move clockings, an operator moves people between org groups, and
readers meanwhile walk ``person in org-tree(2)`` lists and follow a delta. No response
is a 5xx; every listed record belongs to someone who was in the tree at some point;
afterwards the filtered list is exactly the clockings of the tree's final members and
the delta's copy is exactly the server's data (nothing lost).

A delta cannot itself be filtered by org tree (seeds 001-003: "People cannot be used
in the delta"), so the delta here has the date filter, and its start with an org-tree
filter is checked to be refused while the writers run. docs/delta.md says why
memberships cannot disturb a delta.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from chronodelta.domain import API_PREFIX
from chronodelta.server import place_in_org_group
from chronodelta.storage import create_engine, read_transaction, tables
from chronodelta.testing import ServerProcess
from tests.provisioning import bearer, provision_with_cli

TODAY = "2026-01-20"
CLOCKINGS = f"{API_PREFIX}/clockings"
SINCE = "date ge '2026-01-01'"
IN_TREE = f"{SINCE} and person in org-tree(2)"
WRITERS, WRITES = 3, 20
MOVED = (4, 7)  # between Warehouse (4, under Operations: 2) and Finance (7, not)
ENV = {
    "CHRONODELTA_TODAY": TODAY,
    "CHRONODELTA_PAGE_SIZE": "20",
    "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
}


@dataclass
class Observed:
    statuses: list[int] = field(default_factory=list)
    strays: list[Any] = field(default_factory=list)  # listed, but never in the tree
    walks: int = 0
    created: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, response: httpx.Response) -> httpx.Response:
        with self.lock:
            self.statuses.append(response.status_code)
        return response


def tree_members(engine: sa.Engine) -> set[int]:
    """People now in org group 2 or below it, read from the tables."""
    with read_transaction(engine) as connection:
        groups = {g.id: g.parent_id for g in connection.execute(sa.select(tables.org_groups))}
        placed = connection.execute(sa.select(tables.org_group_members)).all()

    def under_two(group: int | None) -> bool:
        while group is not None and group != 2:
            group = groups[group]
        return group == 2

    return {m.person_id for m in placed if under_two(m.org_group_id)}


def walk(http: httpx.Client, auth: dict[str, str], seen: Observed, text: str) -> list[Any]:
    page = seen.note(http.get(CLOCKINGS, params={"filter": text}, headers=auth)).json()
    records = list(page["value"])
    while "nextLink" in page:
        page = seen.note(http.get(page["nextLink"], headers=auth)).json()
        records += page["value"]
    return records


def run_threads(*targets: Callable[[], None]) -> None:
    failures: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # re-raised below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_org_tree_lists_and_a_delta_under_concurrent_writers_and_moves(
    database_url: str,
) -> None:
    client = provision_with_cli(database_url, people=12, days=10, until=TODAY)
    engine = create_engine(database_url)
    ever_in_tree = tree_members(engine) | set(MOVED)
    workers = "2" if database_url.startswith("postgresql") else "1"
    seen, done = Observed(), threading.Event()
    with ServerProcess(database_url, args=["--workers", workers], env=ENV) as server:

        def connect() -> tuple[httpx.Client, dict[str, str]]:
            http = httpx.Client(
                base_url=server.base_url, headers={"User-Agent": "Trees/1.0 (Acme)"}, timeout=60
            )
            return http, bearer(http, client)

        reader_http, reader_auth = connect()
        snapshot, link = walk_delta_start(reader_http, reader_auth, seen)
        delta_copy = {r["id"]: r for r in snapshot}

        def writer(number: int) -> None:
            http, auth = connect()
            for i in range(WRITES):
                body = {
                    "person": {"id": 1 + (number * WRITES + i) % 12},
                    "date": f"2026-01-{10 + i % 10:02d}",
                    "timeOfDayInMinutes": 400 + i,
                    "kind": "InOut",
                }
                created = seen.note(http.post(CLOCKINGS, json=body, headers=auth))
                clocking_id = int(created.headers["Location"].rsplit("/", 1)[1])
                with seen.lock:
                    seen.created.append(clocking_id)
                if i % 4 == 0:  # a move to another person, in or out of the tree
                    moved = {**body, "person": {"id": 1 + (i * 5) % 12}}
                    seen.note(http.put(f"{CLOCKINGS}/{clocking_id}", json=moved, headers=auth))

        def operator() -> None:
            for i in range(12):
                inside = i % 2 == 0
                place_in_org_group(engine, "acme", MOVED[0], 4 if inside else 7)
                place_in_org_group(engine, "acme", MOVED[1], 7 if inside else 4)

        def reader() -> None:
            http, auth = connect()
            while True:  # at least one walk, then until the writers are done
                records = walk(http, auth, seen, IN_TREE)
                keys = [(r["date"], r["id"]) for r in records]
                assert keys == sorted(set(keys))  # no record twice, none out of order
                with seen.lock:
                    seen.walks += 1
                    seen.strays += [r for r in records if r["person"]["id"] not in ever_in_tree]
                if done.is_set():
                    break
            refused = seen.note(
                http.get(CLOCKINGS, params={"filter": IN_TREE, "delta": ""}, headers=auth)
            )
            assert refused.status_code == 400  # seeds: "People cannot be used in the delta"

        def follower() -> None:
            nonlocal link
            http, auth = connect()
            while not done.is_set():
                link = follow(http, auth, seen, link, delta_copy)

        def writers_then_done() -> None:
            run_threads(*(lambda n=n: writer(n) for n in range(WRITERS)), operator)
            done.set()

        run_threads(writers_then_done, reader, reader, follower)
        link = follow(reader_http, reader_auth, seen, link, delta_copy)
        everything = walk(reader_http, reader_auth, seen, SINCE)
        final_tree = tree_members(engine)
        in_tree = walk(reader_http, reader_auth, seen, IN_TREE)
    engine.dispose()

    assert not [s for s in seen.statuses if s >= 500], sorted(set(seen.statuses))
    assert seen.walks >= 2 and not seen.strays, seen.strays[:3]
    assert in_tree == [r for r in everything if r["person"]["id"] in final_tree]
    assert set(seen.created) <= {r["id"] for r in everything}
    assert delta_copy == {r["id"]: r for r in everything}  # nothing lost, nothing stale
    assert len(seen.created) == WRITERS * WRITES


def walk_delta_start(
    http: httpx.Client, auth: dict[str, str], seen: Observed
) -> tuple[list[Any], str]:
    """The snapshot of a date-only delta, and its deltaLink."""
    page = seen.note(
        http.get(CLOCKINGS, params={"filter": SINCE, "delta": ""}, headers=auth)
    ).json()
    records = list(page["value"])
    while "nextLink" in page:
        page = seen.note(http.get(page["nextLink"], headers=auth)).json()
        records += page["value"]
    return records, str(page["deltaLink"])


def follow(
    http: httpx.Client, auth: dict[str, str], seen: Observed, link: str, copy: dict[int, Any]
) -> str:
    """Apply one deltaLink response to ``copy`` (by changeVersion); the next link."""
    body = seen.note(http.get(link, headers=auth)).json()
    for change in body["value"]:
        data = change["data"]
        old = copy.get(data["id"])
        if old is not None and old["changeVersion"] > data["changeVersion"]:
            continue
        if change["changeType"] == "Delete":
            copy.pop(data["id"], None)
        else:
            copy[data["id"]] = data
    return str(body["deltaLink"])
