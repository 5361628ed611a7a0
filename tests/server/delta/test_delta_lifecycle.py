"""Delta lifecycle: expiry 72 hours after the last request, and retention.

Time is moved with the tenant's clock (issue 13, item 1), frozen at the moment a test
names, never by sleeping.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from chronodelta.domain import Scope
from chronodelta.server import run_retention, set_clock
from chronodelta.storage import read_transaction, tables
from tests.server.conftest import Api
from tests.server.delta_client import follow, start

PATH = "/connector/protimeapi/api/v1/clockings"
RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
HOURS = dt.timedelta(hours=1)


def at(api: Api, moment: dt.datetime) -> None:
    """The tenant's time stands at ``moment``; tokens are asked for anew at that time."""
    set_clock(api.engine, api.tenant, moment, frozen=True)
    api.forget_tokens()


def test_a_delta_lives_72_hours_after_its_last_request(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    mirror = start(api.http, PATH, {"filter": "date ge '2026-01-10'"}, api.auth(*RW))
    at(api, now + 71 * HOURS)
    follow(api.http, mirror, api.auth(*RW))  # keeps it alive
    at(api, now + 142 * HOURS)
    follow(api.http, mirror, api.auth(*RW))
    at(api, now + 215 * HOURS)
    gone = api.http.get(str(mirror.delta_link), headers=api.auth(*RW))
    assert gone.status_code == 410
    error = gone.json()["error"]
    assert error["code"] == "Gone" and "expired" in error["message"]
    assert "72 hours" in error["reasons"][0]


def stored_last_use(api: Api) -> dt.datetime:
    with read_transaction(api.engine) as connection:
        value = connection.scalar(sa.select(sa.func.max(tables.deltas.c.last_used_at)))
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_a_use_is_recorded_at_most_once_a_minute_and_never_expires_a_delta_early(
    api: Api,
) -> None:
    # Recording every poll would take SQLite's write lock on every delta read.
    mirror = start(api.http, PATH, {"filter": "date ge '2026-01-10'"}, api.auth(*RW))
    started = stored_last_use(api)
    at(api, started + dt.timedelta(seconds=30))
    follow(api.http, mirror, api.auth(*RW))
    assert stored_last_use(api) == started  # within the slack: not written again
    # 72 hours after that unrecorded request the delta still lives...
    at(api, started + dt.timedelta(seconds=30) + 72 * HOURS)
    follow(api.http, mirror, api.auth(*RW))
    assert stored_last_use(api) == started + dt.timedelta(seconds=30) + 72 * HOURS
    # ...and 72 hours and a minute after the last recorded one it is gone.
    at(api, stored_last_use(api) + 72 * HOURS + dt.timedelta(minutes=1, seconds=1))
    assert api.http.get(str(mirror.delta_link), headers=api.auth(*RW)).status_code == 410


def test_retention_forgets_expired_deltas_and_history_no_delta_needs(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    record = api.http.post(
        PATH,
        headers=api.auth(*RW),
        json={
            "person": {"id": 1},
            "date": "2026-01-15",
            "timeOfDayInMinutes": 500,
            "kind": "InOut",
        },
    ).json()
    mirror = start(api.http, PATH, {"filter": "date ge '2026-01-10'"}, api.auth(*RW))
    api.http.put(
        f"{PATH}/{record['id']}",
        headers=api.auth(*RW),
        json={
            "person": {"id": 1},
            "date": "2026-01-02",
            "timeOfDayInMinutes": 500,
            "kind": "InOut",
        },
    )
    tracker = api.services.deltas

    kept = run_retention(api.engine, ttl=tracker.ttl, overlap=tracker.overlap, now=now + HOURS)
    assert (kept.deltas, kept.departures) == (0, 0)  # the live delta still needs the departure
    assert kept.change_marks > 0  # marks older than the overlap window, but the newest
    changes = follow(api.http, mirror, api.auth(*RW))
    assert {
        "changeType": "Delete",
        "data": {"changeVersion": changes[-1]["data"]["changeVersion"], "id": record["id"]},
    } in changes

    later = now + 100 * HOURS
    report = run_retention(api.engine, ttl=tracker.ttl, overlap=tracker.overlap, now=later)
    assert report.deltas == 1 and report.departures == 1
    with api.engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(tables.change_marks)) == 1
        assert connection.scalar(sa.select(sa.func.count()).select_from(tables.departures)) == 0
        assert connection.scalar(sa.select(sa.func.count()).select_from(tables.deltas)) == 0
    at(api, later)
    gone = api.http.get(str(mirror.delta_link), headers=api.auth(*RW))
    assert gone.status_code == 410 and "expired" in gone.json()["error"]["message"]
