"""The console's pages over the other sandbox controls (issue 13, item 5: "deltas with
their expiry countdown, the request log with filters, ... fault rules and the tenant
clock"), on a running server on both databases (PostgreSQL with two workers): each
change made in the console is checked where the API shows it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable

import httpx

from .conftest import API, Console, Sandbox

DEADLINE_SECONDS = 30  # the request log is written by a thread every 200 ms


def eventually(check: Callable[[], bool]) -> None:
    """Poll ``check`` until it holds (a condition with a deadline, not a sleep)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not check():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)


def start_delta(api: httpx.Client) -> str:
    page = api.get(f"{API}/clockings", params={"filter": "date ge '2026-01-01'", "delta": ""})
    assert page.status_code == 200, page.text
    while "deltaLink" not in page.json():
        page = api.get(page.json()["nextLink"])
    link: str = page.json()["deltaLink"]
    return link


def delta_ids(html: str) -> list[int]:
    table = html.split('id="deltas"', 1)[1].split("</table>", 1)[0]
    return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", table)]


def seconds_left(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-seconds-left="(-?\d+)"', html)]


def test_deltas_show_their_time_left_and_expire_from_the_console(
    sandbox: Sandbox, console: Console
) -> None:
    with sandbox.api() as api:
        link = start_delta(api)
        page = console.get("/console/tenants/acme/deltas")
        assert page.status_code == 200
        newest = max(delta_ids(page.text))
        left = seconds_left(page.text)
        assert left and 71 * 3600 < max(left) <= 72 * 3600 + 120, left  # 72 h, less a moment
        expired = console.submit(
            "/console/tenants/acme/deltas", f"/console/tenants/acme/deltas/{newest}/expire"
        )
        assert expired.status_code == 303
        assert f"Delta {newest} expired" in console.follow(expired).text
        assert api.get(link).status_code == 410
    assert (
        console.submit(
            "/console/tenants/acme/deltas", "/console/tenants/acme/deltas/999999/expire"
        ).status_code
        == 404
    )


def test_the_clock_advanced_in_the_console_expires_a_live_delta(
    sandbox: Sandbox, console: Console
) -> None:
    page = "/console/tenants/acme/clock"
    with sandbox.api() as api:
        link = start_delta(api)
        try:
            before = console.get(page).text
            advanced = console.submit(page, page, change="advance", by="73h")
            assert advanced.status_code == 303, advanced.text
            after = console.follow(advanced).text
            assert "The tenant&#39;s clock is changed" in after
            assert "<dd>262800 s" in after, after  # 73 h ahead of the wall clock
            assert before != after
            deltas = console.get("/console/tenants/acme/deltas").text
            assert seconds_left(deltas) and max(seconds_left(deltas)) == 0
            # 73 hours passed for the tenant: its access token and its delta expired.
            assert api.get(link).status_code == 401
            with sandbox.api() as fresh:
                assert fresh.get(link).status_code == 410
            refused = console.submit(page, page, change="advance", by="-2h")
            assert refused.status_code == 400 and "negative" in refused.text
            moved = console.submit(page, page, change="set", time="2026-01-16T09:00:00+00:00")
            assert "2026-01-16" in console.follow(moved).text
        finally:
            reset = console.submit(page, page, change="reset")
        assert reset.status_code == 303 and "<dd>0 s" in console.follow(reset).text


def test_fault_rules_added_in_the_console_fail_api_calls_then_clear(
    sandbox: Sandbox, console: Console
) -> None:
    page = "/console/tenants/acme/faults"
    added = console.submit(
        page, page, action="status", status="503", path="*/people*", count="1", method="GET"
    )
    assert added.status_code == 303, added.text
    listing = console.follow(added).text
    assert "status 503" in listing and "Retry-After 1" in listing
    with sandbox.api() as api:
        failed = api.get(f"{API}/people")
        assert failed.status_code == 503 and failed.headers["retry-after"] == "1"
        assert api.get(f"{API}/people").status_code == 200  # --count 1: once
    refused = console.submit(page, page, action="status", status="abc")
    assert refused.status_code == 400 and "status: must be a whole number" in refused.text
    refused = console.submit(page, page, action="status", status="200")
    assert refused.status_code == 400 and "error status" in refused.text
    console.submit(page, page, action="latency", latency_ms="5", path="/nowhere")
    cleared = console.submit(page, "/console/tenants/acme/faults/clear")
    assert cleared.status_code == 303
    assert "No fault rule" in console.follow(cleared).text


def test_the_request_log_shows_api_calls_and_console_writes_with_filters(
    sandbox: Sandbox, console: Console
) -> None:
    marker = "/console-log-test-x"
    with sandbox.api() as api:
        assert api.get(f"{API}/people{marker}").status_code == 404
        assert api.get(f"{API}/clockings", params={"filter": "nonsense"}).status_code == 400
    date = dt.date(2026, 1, 29)
    written = console.submit(
        f"/console/tenants/acme/day?person=6&date={date}", "/console/tenants/acme/clockings",
        person="6", date=str(date), time="07:15", kind="InOut",
    )  # fmt: skip
    assert written.status_code == 303

    def shown(**filters: str) -> str:
        """The log's table (the filter form above it repeats what was asked)."""
        page = console.get("/console/tenants/acme/requests", **filters)
        assert page.status_code == 200, page.text
        return page.text.split('id="requests"', 1)[1]

    eventually(lambda: marker in shown(path=marker))
    only_404 = shown(path=marker, status="4xx")
    assert marker in only_404 and "NotFound" in only_404
    assert marker not in shown(path=marker, status="2xx")
    # Each worker flushes its own log rows: the 400 may have gone to the other worker.
    eventually(lambda: "nonsense" in shown(status="400", path="/clockings"))
    eventually(lambda: "console:ops" in shown(client="console:ops"))
    mine = shown(client="console:ops", method="POST")
    assert (
        "/connector/protimeapi/api/v1/clockings" in mine
        and "&#34;timeOfDayInMinutes&#34;:435" in mine
    )
    bad = console.get("/console/tenants/acme/requests", status="abc")
    assert bad.status_code == 400 and "status must be" in bad.text
    # Never a secret or a token in the log's page.
    everything = shown(limit="1000")
    assert sandbox.client.client_secret not in everything and "Bearer" not in everything


def test_a_snapshot_taken_in_the_console_restores_and_a_reset_brings_back_the_seed(
    sandbox: Sandbox, console: Console
) -> None:
    """Issue 13, item 4 from the console: take a snapshot, change data, restore it; reset
    to the seeded state; an open delta ends (410); the API client keeps working."""
    page = "/console/tenants/acme/snapshots"
    day = {"filter": "date eq '2026-01-30' and person eq 1"}
    with sandbox.api() as api:
        before = api.get(f"{API}/clockings", params=day).json()["value"]
        taken = console.submit(page, page, change="take", name="before-test")
        assert taken.status_code == 303, taken.text
        assert "Snapshot before-test taken" in console.follow(taken).text
        added = console.submit(
            "/console/tenants/acme/day?person=1&date=2026-01-30",
            "/console/tenants/acme/clockings",
            person="1", date="2026-01-30", time="10:00", kind="InOut",
        )  # fmt: skip
        assert added.status_code == 303
        assert len(api.get(f"{API}/clockings", params=day).json()["value"]) == len(before) + 1
        link = start_delta(api)
        restored = console.submit(page, page, change="restore", name="before-test")
        assert restored.status_code == 303, restored.text
        assert api.get(f"{API}/clockings", params=day).json()["value"] == before
        assert api.get(link).status_code == 410
        reset = console.submit(page, page, change="reset")
        assert reset.status_code == 303 and "seeded" in console.follow(reset).text
        missing = console.submit(page, page, change="restore", name="no-such")
        assert missing.status_code == 400 and "no snapshot" in missing.text
        deleted = console.submit(page, page, change="delete", name="before-test")
        assert "before-test" not in console.follow(deleted).text.split('id="snapshots"')[1]
