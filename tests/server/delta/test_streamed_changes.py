"""A long delta response is read whole before it starts, so a write meanwhile
neither cuts it nor changes it (issue 9).

Over real HTTP against ``chronodelta serve``: 20,000 clockings change after a delta
starts; the client reads the first bytes of the deltaLink's response, creates a
clocking while the rest is still unread, then reads to the end. The body is whole
(its Content-Length, valid JSON), holds exactly the 20,000 changes and not the new
clocking, and the next deltaLink brings the new clocking alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingDraft, ClockingKind
from chronodelta.server import (
    create_client,
    create_tenant,
    insert_clockings,
    seed_tenant,
    tenant_id,
)
from chronodelta.testing import ServerProcess
from tests.server.conftest import SEED_UNTIL, USER_AGENT
from tests.server.delta_client import start

PATH = "/connector/protimeapi/api/v1/clockings"
CHANGED = 20_000


@pytest.fixture
def served(engine: Engine, database_url: str) -> Iterator[tuple[httpx.Client, int]]:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=5, seed=1, until=SEED_UNTIL)
    client = create_client(engine, "acme")
    with (
        # No overlap window: the first deltaLink call then brings exactly what changed.
        ServerProcess(database_url, env={"CHRONODELTA_DELTA_OVERLAP_SECONDS": "0"}) as server,
        httpx.Client(base_url=server.base_url, headers={"User-Agent": USER_AGENT}) as http,
    ):
        token = http.post(
            "/tenants/acme/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http, tenant_id(engine, "acme")


def drafts(count: int) -> Iterator[ClockingDraft]:
    for index in range(count):
        yield ClockingDraft(
            person_id=1 + index % 3,
            date=SEED_UNTIL - dt.timedelta(days=index % 7),
            time_of_day=index % 1440,
            kind=ClockingKind.IN_OUT,
        )


def test_a_write_during_a_long_streamed_read_neither_cuts_nor_changes_it(
    served: tuple[httpx.Client, int], engine: Engine
) -> None:
    http, owner = served
    mirror = start(http, PATH, {"filter": "date ge '2026-01-01'"}, {})
    insert_clockings(engine, owner, drafts(CHANGED), calculate=False)
    with http.stream("GET", str(mirror.delta_link)) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        first = next(chunks)
        assert len(first) < int(response.headers["content-length"])  # the rest is unread
        created = http.post(
            PATH,
            json={
                "person": {"id": 2},
                "date": "2026-01-18",
                "timeOfDayInMinutes": 7,
                "kind": "InOut",
            },
        )
        assert created.status_code == 201, created.text
        body = first + b"".join(chunks)
    assert len(body) == int(response.headers["content-length"])
    changes: dict[str, Any] = orjson.loads(body)
    ids = {change["data"]["id"] for change in changes["value"]}
    assert len(ids) == CHANGED
    assert created.json()["id"] not in ids
    after = http.get(changes["deltaLink"])
    assert after.status_code == 200
    assert [change["data"]["id"] for change in after.json()["value"]] == [created.json()["id"]]
