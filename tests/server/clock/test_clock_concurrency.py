"""Readers and writers over HTTP while the tenant's clock is advanced (issue 13,
item 1; the house rule: no 5xx, nothing lost). The only refusals are the expected
ones: 401 for a token and 410 for a delta past their time, and only for requests
sent after the advance began; the callers then get a new token or start a new
delta, and at the end every clocking answered 201 is in the list and in the delta
mirror.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chronodelta.server import advance_clock, create_client
from tests.server.clock.conftest import CLOCKINGS, Sandbox, this_year
from tests.server.conftest import USER_AGENT
from tests.server.delta_client import start

BEFORE, AFTER = 15, 15  # requests per caller on each side of the advance
WRITERS, READERS = 2, 2


@dataclass
class Outcome:
    # (status, whether the request was sent after the advance began)
    statuses: list[tuple[int, bool]] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, after: bool) -> None:
        with self.lock:
            self.statuses.append((status, after))


class Caller:
    """One thread's requests: a token renewed on 401, a delta restarted on 410."""

    def __init__(self, sandbox: Sandbox, outcome: Outcome, advanced: threading.Event) -> None:
        self.sandbox, self.outcome, self.advanced = sandbox, outcome, advanced
        # A client of its own: a client has one active delta per collection.
        client = create_client(sandbox.engine, sandbox.tenant)
        self.credentials = (client.client_id, client.client_secret)
        self.http = httpx.Client(
            base_url=sandbox.server.base_url, headers={"User-Agent": USER_AGENT}, timeout=60.0
        )
        self.headers = sandbox.token(*self.credentials)

    def send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        while True:
            after = self.advanced.is_set()
            response = request()
            self.outcome.record(response.status_code, after)
            if response.status_code != 401:
                return response
            self.headers = self.sandbox.token(*self.credentials)


def write(caller: Caller, number: int, writer: int) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    body = {
        "person": {"id": 1 + writer},
        "date": today,
        "timeOfDayInMinutes": 100 + number,
        "kind": "InOut",
    }
    response = caller.send(lambda: caller.http.post(CLOCKINGS, json=body, headers=caller.headers))
    assert response.status_code == 201, response.text
    with caller.outcome.lock:
        caller.outcome.created.append(response.json()["id"])


def read(caller: Caller, state: dict[str, Any]) -> None:
    if state.get("link") is None:
        mirror = start(caller.http, CLOCKINGS, {"filter": this_year()}, caller.headers)
        state["link"] = mirror.delta_link
        state["copy"] = dict.fromkeys(mirror.records, "InsertOrUpdate")
    response = caller.send(lambda: caller.http.get(state["link"], headers=caller.headers))
    if response.status_code == 410:
        state["link"] = None  # expired by the advance: start again, as a client would
        return
    assert response.status_code == 200, response.text
    body = response.json()
    for change in body["value"]:
        state["copy"][change["data"]["id"]] = change["changeType"]
    state["link"] = body["deltaLink"]
    listed = caller.send(
        lambda: caller.http.get(CLOCKINGS, params={"filter": this_year()}, headers=caller.headers)
    )
    assert listed.status_code == 200, listed.text


def listed_ids(sandbox: Sandbox) -> set[int]:
    headers, found = sandbox.token(), set()
    url: str | None = CLOCKINGS
    params: dict[str, str] | None = {"filter": this_year()}
    with sandbox.http() as http:
        while url is not None:
            page = http.get(url, params=params, headers=headers).json()
            found |= {record["id"] for record in page["value"]}
            url, params = page.get("nextLink"), None
    return found


def test_readers_and_writers_lose_nothing_while_the_clock_advances(sandbox: Sandbox) -> None:
    outcome, advanced = Outcome(), threading.Event()
    ready = threading.Barrier(WRITERS + READERS + 1)
    callers = [Caller(sandbox, outcome, advanced) for _ in range(WRITERS + READERS)]
    mirrors: list[dict[str, Any]] = [{} for _ in range(READERS)]
    errors: list[BaseException] = []

    def run(index: int) -> None:
        caller = callers[index]
        try:
            for number in range(BEFORE + AFTER):
                if number == BEFORE:
                    ready.wait(timeout=120)  # everyone has done BEFORE requests
                    advanced.wait(timeout=120)
                if index < WRITERS:
                    write(caller, number, index)
                else:
                    read(caller, mirrors[index - WRITERS])
        except BaseException as exc:  # reported below, with the statuses
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(callers))]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=120)
    except threading.BrokenBarrierError:
        for thread in threads:
            thread.join(timeout=60)
        raise AssertionError(errors) from None
    advance_clock(sandbox.engine, sandbox.tenant, dt.timedelta(hours=73))
    advanced.set()
    deadline = time.monotonic() + 300
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()))
    for caller in callers:
        caller.http.close()
    assert not errors, errors
    statuses = outcome.statuses
    assert not [s for s, _ in statuses if s >= 500], statuses
    assert {s for s, _ in statuses} <= {200, 201, 401, 410}, statuses
    # The expected refusals only: past expiry, for requests sent after the advance.
    assert all(after for s, after in statuses if s in (401, 410)), statuses
    assert {s for s, after in statuses if after} >= {401, 410}  # the advance did bite
    assert len(outcome.created) == WRITERS * (BEFORE + AFTER)
    in_list = listed_ids(sandbox)
    assert set(outcome.created) <= in_list  # nothing lost
    for caller, mirror in zip(callers[WRITERS:], mirrors, strict=True):
        # One last delta call brings each mirror level with the list.
        caller.http = sandbox.http()
        read(caller, mirror)
        kept = {i for i, kind in mirror["copy"].items() if kind == "InsertOrUpdate"}
        assert kept == in_list
        caller.http.close()
