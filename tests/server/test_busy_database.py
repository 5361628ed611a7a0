"""A busy database makes requests wait, then answers 503 with Retry-After (issue 9).

Another connection holds the lock a request needs: SQLite's write lock (``BEGIN
IMMEDIATE``), or on PostgreSQL the tenant's counter row and the delta's row. With the
busy timeout at half a second, a write, a delta read (which records its use) and a
token request (which counts it) answer 503 in the vendor's error format, change
nothing, and work again once the lock is released. Reads that need no lock go on.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server import advance_clock
from chronodelta.storage import is_postgresql, tables
from tests.server.conftest import Api, make_api
from tests.server.delta_client import follow, start

PATH = "/connector/protimeapi/api/v1/clockings"
RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
CLOCKING = {"person": {"id": 1}, "date": "2026-01-15", "timeOfDayInMinutes": 500, "kind": "InOut"}
LIST = {"filter": "date ge '2026-01-10' and date le '2026-01-20'"}


@pytest.fixture
def busy_api(engine: Engine, database_url: str) -> Iterator[Api]:
    yield from make_api(engine, database_url, page_size=1000, db_busy_timeout=0.5)


@contextmanager
def database_locked(api: Api) -> Iterator[None]:
    """Hold what a write of the tenant needs until the block ends."""
    if is_postgresql(api.engine):
        with api.engine.connect() as connection, connection.begin():
            counters, deltas = tables.tenant_counters, tables.deltas
            connection.execute(
                sa.select(counters).where(counters.c.tenant_id == api.tenant_id).with_for_update()
            )
            connection.execute(sa.select(deltas).with_for_update())
            # Token requests count themselves in this table (any row, any window).
            connection.execute(sa.text("LOCK TABLE token_request_windows IN EXCLUSIVE MODE"))
            yield
        return
    holder = sqlite3.connect(api.engine.url.database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.close()


def assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable"
    assert "nothing was changed" in error["reasons"][0]


def listed(api: Api) -> list[int]:
    response = api.http.get(PATH, params=LIST, headers=api.auth(*RW))
    assert response.status_code == 200, response.text
    return sorted(record["id"] for record in response.json()["value"])


def test_a_write_behind_a_held_lock_gets_503_and_changes_nothing(busy_api: Api) -> None:
    before = listed(busy_api)
    with database_locked(busy_api):
        assert_busy(busy_api.http.post(PATH, json=CLOCKING, headers=busy_api.auth(*RW)))
        assert listed(busy_api) == before  # readers never wait for the writer
    created = busy_api.http.post(PATH, json=CLOCKING, headers=busy_api.auth(*RW))
    assert created.status_code == 201
    assert listed(busy_api) == sorted([*before, created.json()["id"]])


def test_a_delta_read_behind_a_held_lock_gets_503_and_its_link_still_works(
    busy_api: Api,
) -> None:
    mirror = start(busy_api.http, PATH, {"filter": "date ge '2026-01-10'"}, busy_api.auth(*RW))
    link = mirror.delta_link
    # Two minutes on: past the slack within which a use is not recorded again, so
    # this read must write its use, and wait for the lock.
    advance_clock(busy_api.engine, busy_api.tenant, dt.timedelta(minutes=2))
    with database_locked(busy_api):
        assert_busy(busy_api.http.get(str(link), headers=busy_api.auth(*RW)))
    created = busy_api.http.post(PATH, json=CLOCKING, headers=busy_api.auth(*RW)).json()
    changes = follow(busy_api.http, mirror, busy_api.auth(*RW))
    assert created["id"] in {change["data"]["id"] for change in changes}


def test_a_token_request_behind_a_held_lock_gets_503(busy_api: Api) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": busy_api.client_id,
        "client_secret": busy_api.client_secret,
    }
    path = f"/tenants/{busy_api.tenant}/connect/token"
    with database_locked(busy_api):
        assert_busy(busy_api.http.post(path, data=form))
    assert busy_api.http.post(path, data=form).status_code == 200
