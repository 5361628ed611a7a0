"""A tenant's clock drives its time on a running server, in every worker at once
(issue 13, item 1; "Must hold": "73 hours advanced expire a live delta and an access
token"). Over real HTTP, two workers, SQLite and PostgreSQL; no waiting anywhere: each
request reads its tenant's clock.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest

from chronodelta.server import advance_clock, reset_clock, set_clock, show_clocks
from tests.server.clock.conftest import (
    CLOCKINGS,
    HOURS,
    Sandbox,
    Served,
    new_sandbox,
    start_delta,
    this_year,
)


def advance_by_library(sandbox: Sandbox, by: str) -> None:
    """What ``chronodelta clock advance`` does: a write to the database."""
    from chronodelta.server import parse_duration

    advance_clock(sandbox.engine, sandbox.tenant, parse_duration(by))


def advance_by_admin_api(sandbox: Sandbox, by: str) -> None:
    response = sandbox.admin("POST", f"/tenants/{sandbox.tenant}/clock/advance", json={"by": by})
    assert response.status_code == 200, response.text


ADVANCE = pytest.mark.parametrize(
    "advance", [advance_by_library, advance_by_admin_api], ids=["library", "admin-api"]
)
Advance = Callable[[Sandbox, str], None]


@ADVANCE
def test_73_hours_expire_a_live_delta_and_a_token_on_every_worker(
    sandbox: Sandbox, advance: Advance
) -> None:
    token = sandbox.token()
    link = start_delta(sandbox, token)
    # Both workers have verified (and cached) the token and served the delta.
    assert sandbox.statuses(link, token) == {200}
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {200}
    advance(sandbox, "73h")
    # Contract: tokens live 1,800 s; deltas expire 72 hours after their last request.
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {401}
    fresh = sandbox.token()  # issued after advancing: it works
    assert sandbox.statuses(CLOCKINGS, fresh, {"filter": this_year()}) == {200}
    assert sandbox.statuses(link, fresh) == {410}
    with sandbox.http() as http:
        error = http.get(link, headers=fresh).json()["error"]
    assert error["code"] == "Gone" and "expired" in error["message"]
    # A delta started now lives on the tenant's time.
    assert sandbox.statuses(start_delta(sandbox, fresh), fresh) == {200}


def test_a_token_lives_30_minutes_of_its_tenants_time(sandbox: Sandbox) -> None:
    advance_by_library(sandbox, "2d")
    token = sandbox.token()
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {200}
    advance_by_library(sandbox, "29m")
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {200}
    advance_by_library(sandbox, "1m")  # 1,800 s after it was issued, in tenant time
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {401}


def test_the_delta_rules_today_follows_the_clock(sandbox: Sandbox) -> None:
    # Contract, "Delta": the start date must be in the past (today allowed) and no
    # earlier than January 1st of the previous year, counted from the tenant's today.
    in_three_days = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).date()
    params = {"filter": f"date ge '{in_three_days}'", "delta": ""}
    token = sandbox.token()
    assert sandbox.statuses(CLOCKINGS, token, params) == {400}
    advance_by_library(sandbox, "4d")
    token = sandbox.token()
    assert sandbox.statuses(CLOCKINGS, token, params) == {200}
    # Set two years on: this year's January 1st is now too early.
    in_two_years = dt.datetime.now(dt.UTC).replace(year=dt.date.today().year + 2, month=6, day=1)
    set_clock(sandbox.engine, sandbox.tenant, in_two_years)
    token = sandbox.token()
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year(), "delta": ""}) == {400}
    with sandbox.http() as http:
        reasons = http.get(
            CLOCKINGS, params={"filter": this_year(), "delta": ""}, headers=token
        ).json()["error"]["reasons"]
    assert any(f"{in_two_years.year - 1}-01-01" in reason for reason in reasons), reasons


def test_clock_reset_restores_the_wall_clock(sandbox: Sandbox) -> None:
    before = sandbox.token()
    advance_by_library(sandbox, "73h")
    assert sandbox.statuses(CLOCKINGS, before, {"filter": this_year()}) == {401}
    during = sandbox.token()
    response = sandbox.admin("DELETE", f"/tenants/{sandbox.tenant}/clock")
    assert response.status_code == 200, response.text
    assert response.json()["offsetSeconds"] == 0 and not response.json()["anchored"]
    (shown,) = show_clocks(sandbox.engine, sandbox.tenant)
    assert shown.offset_seconds == 0 and abs(shown.now - dt.datetime.now(dt.UTC)) < HOURS
    # The token issued before advancing is within its 30 minutes again; one issued in
    # the tenant's future is not valid yet (nbf); new ones work.
    assert sandbox.statuses(CLOCKINGS, before, {"filter": this_year()}) == {200}
    assert sandbox.statuses(CLOCKINGS, during, {"filter": this_year()}) == {401}
    after = sandbox.token()
    assert sandbox.statuses(start_delta(sandbox, after), after) == {200}


def test_a_clock_change_of_one_tenant_leaves_the_others_alone(served: Served) -> None:
    moved, other = new_sandbox(served), new_sandbox(served)
    moved_token, other_token = moved.token(), other.token()
    advance_by_library(moved, "73h")
    assert moved.statuses(CLOCKINGS, moved_token, {"filter": this_year()}) == {401}
    assert other.statuses(CLOCKINGS, other_token, {"filter": this_year()}) == {200}


def test_a_frozen_clock_stands_still_and_advances_from_where_it_stands(sandbox: Sandbox) -> None:
    moment = dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    response = sandbox.admin(
        "PUT", f"/tenants/{sandbox.tenant}/clock", json={"time": moment.isoformat(), "frozen": True}
    )
    assert response.status_code == 200, response.text
    shown = response.json()
    assert dt.datetime.fromisoformat(shown["now"]) == moment
    assert shown["frozen"] and shown["today"] == "2027-03-02"
    advanced = sandbox.admin(
        "POST", f"/tenants/{sandbox.tenant}/clock/advance", json={"by": "1d12h"}
    ).json()
    assert dt.datetime.fromisoformat(advanced["now"]) == moment + dt.timedelta(days=1, hours=12)
    got = sandbox.admin("GET", f"/tenants/{sandbox.tenant}/clock").json()
    assert got["now"] == advanced["now"]  # still standing
    token = sandbox.token()
    assert sandbox.statuses(CLOCKINGS, token, {"filter": this_year()}) == {200}
    reset_clock(sandbox.engine, sandbox.tenant)


def test_webhook_valid_until_is_in_the_tenants_time(sandbox: Sandbox) -> None:
    # Contract, "Webhooks": validUntil given at registration, Disabled once past it.
    body = {"destinationUrl": "http://127.0.0.1:9/hook", "collectionName": "clockings"}
    hooks = "/connector/protimeapi/api/v1/webhooks"
    with sandbox.http() as http:
        first = http.post(hooks, json=body, headers=sandbox.token()).json()
    lifetime = dt.timedelta(days=30)  # CHRONODELTA_WEBHOOK_LIFETIME_SECONDS' default
    valid_until = dt.datetime.fromisoformat(first["validUntil"])
    assert abs(valid_until - (dt.datetime.now(dt.UTC) + lifetime)) < HOURS
    advance_by_library(sandbox, "31d")
    token = sandbox.token()
    with sandbox.http() as http:
        shown = http.get(f"{hooks}/{first['id']}", headers=token).json()
        second = http.post(hooks, json=body, headers=token).json()
    assert shown["status"] == "Disabled" and shown["disabledReason"] == "validUntil has passed"
    later = dt.datetime.fromisoformat(second["validUntil"])
    assert abs(later - (dt.datetime.now(dt.UTC) + dt.timedelta(days=31) + lifetime)) < HOURS
    assert second["status"] == "Enabled"


def test_a_webhook_of_a_tenant_set_back_a_year_is_delivered_to_not_disabled(
    sandbox: Sandbox,
) -> None:
    # Its validUntil lies before the wall clock's now: the deliverer (every worker)
    # judges it at the tenant's time, so an attempt leaves it Enabled.
    a_year_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    set_clock(sandbox.engine, sandbox.tenant, a_year_ago)
    token = sandbox.token()
    hooks = "/connector/protimeapi/api/v1/webhooks"
    body = {"destinationUrl": "http://127.0.0.1:9/hook", "collectionName": "clockings"}
    clocking = {
        "person": {"id": 1},
        "date": dt.date.today().isoformat(),
        "timeOfDayInMinutes": 600,
        "kind": "InOut",
    }
    with sandbox.http() as http:
        hook = http.post(hooks, json=body, headers=token).json()
        assert http.post(CLOCKINGS, json=clocking, headers=token).status_code == 201
        deadline = time.monotonic() + 60
        while not http.get(f"{hooks}/{hook['id']}/deliveries", headers=token).json()["value"]:
            assert time.monotonic() < deadline, "no delivery attempt"
            time.sleep(0.05)
        shown = http.get(f"{hooks}/{hook['id']}", headers=token).json()
    assert shown["status"] == "Enabled", shown
