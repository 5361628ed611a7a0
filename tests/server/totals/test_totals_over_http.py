"""Paid presences and activity durations over real HTTP: seeds 002 and 003, and totals
that follow clocking writes into their own deltas.

The server's "today" is pinned (CHRONODELTA_TODAY) so that the seeds' examples, which
start their deltas at 2025-01-01, stay within the contract's "January 1st of the
previous year" rule whenever the suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronodelta.domain import API_PREFIX
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

PAID = f"{API_PREFIX}/paid-presences"
DURATIONS = f"{API_PREFIX}/activity-durations"
CLOCKINGS = f"{API_PREFIX}/clockings"
TODAY = "2026-01-20"
SUNDAY = "2026-01-18"  # the demo data has no clockings on Sundays


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[httpx.Client, Any]]:
    url = new_database_url(request, request.param, tmp_path)
    client = provision_with_cli(url, people=20, days=40, until=TODAY)
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "40"}
    with (
        ServerProcess(url, env=env) as process,
        httpx.Client(
            base_url=process.base_url, headers={"User-Agent": "Totals/1.0 (Acme)"}
        ) as http,
    ):
        yield http, client


def walk(http: httpx.Client, url: str, headers: dict[str, str]) -> tuple[list[Any], str]:
    """Every record of a delta's snapshot, and its deltaLink."""
    response = http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    page = response.json()
    records = list(page["value"])
    while "nextLink" in page:
        page = http.get(page["nextLink"], headers=headers).json()
        records += page["value"]
    return records, page["deltaLink"]


def test_the_seed_examples_work_as_written(server: tuple[httpx.Client, Any]) -> None:
    http, client = server
    auth = bearer(http, client)
    # Seed 002: a delta with a start date, and with a date range.
    for url in (
        f"{PAID}?delta&filter=date ge '2025-01-01'",
        f"{PAID}?delta&filter=date ge '2025-01-01' and date le '2025-12-31'",
    ):
        records, link = walk(http, url, auth)
        assert records and link.startswith(f"{API_PREFIX}/delta/paid-presences?deltaToken=")
        assert set(records[0]) >= {"changeVersion", "id", "person", "date", "durationInMinutes"}
    assert max(r["date"] for r in records) <= "2025-12-31"
    # Seed 003: activity durations with four external references.
    records, _ = walk(
        http,
        f"{DURATIONS}?filter=date ge '2025-01-01'&externalReferences=(people,@employee-number)"
        "(activity-definitions,@data-entry-code)(absence-definitions,@absence-code)"
        "(counter-definitions,@counter-code)&delta",
        auth,
    )
    assert all("@employee-number" in r["person"]["externalReferences"] for r in records)
    nested = [lv["activityDefinition"] for r in records for lv in r.get("activityLevels", ())]
    assert nested and all("@data-entry-code" in d["externalReferences"] for d in nested)
    counters = [c for r in records for c in r.get("counterDefinitions", ())]
    assert counters and all("@counter-code" in c["externalReferences"] for c in counters)
    # Seed 001: clockings with the employee number.
    records, _ = walk(
        http,
        f"{CLOCKINGS}?filter=date ge '2025-01-01'"
        "&externalReferences=(people,@employee-number)&delta",
        auth,
    )
    assert records and all("@employee-number" in r["person"]["externalReferences"] for r in records)


@pytest.mark.parametrize("path", [PAID, DURATIONS])
def test_the_error_table_of_the_seeds(server: tuple[httpx.Client, Any], path: str) -> None:
    http, client = server
    auth = bearer(http, client)
    statuses = {
        "bad syntax": http.get(f"{path}?delta&filter=date gt '2025-01-01'", headers=auth),
        "unknown field": http.get(f"{path}?delta&filter=kind eq 'InOut'", headers=auth),
        "people in delta": http.get(
            f"{path}?delta&filter=date ge '2025-01-01' and person eq 1", headers=auth
        ),
        "no token": http.get(f"{path}?delta&filter=date ge '2025-01-01'"),
        "URI too long": http.get(
            f"{path}?delta&filter=date ge '2025-01-01'{' ' * 4100}", headers=auth
        ),
    }
    assert {name: r.status_code for name, r in statuses.items()} == {
        "bad syntax": 400,
        "unknown field": 400,
        "people in delta": 400,
        "no token": 401,
        "URI too long": 414,
    }
    _, old_link = walk(http, f"{path}?delta&filter=date ge '2025-01-01'", auth)
    walk(http, f"{path}?delta&filter=date ge '2025-06-01'", auth)  # supersedes the first
    assert http.get(old_link, headers=auth).status_code == 410


def test_the_scope_of_each_total(server: tuple[httpx.Client, Any]) -> None:
    http, client = server
    url = "filter=date ge '2026-01-01' and date le '2026-01-31'"
    clockings_only = {
        **bearer_with(http, client, "connector-protimeapi-clockings.read"),
    }
    assert http.get(f"{PAID}?{url}", headers=clockings_only).status_code == 401
    totals = bearer_with(http, client, "connector-protimeapi-calculated-totals.read")
    assert http.get(f"{PAID}?{url}", headers=totals).status_code == 200
    assert http.get(f"{DURATIONS}?{url}", headers=totals).status_code == 401
    durations = bearer_with(http, client, "connector-protimeapi-activity-durations.read")
    assert http.get(f"{DURATIONS}?{url}", headers=durations).status_code == 200


def bearer_with(http: httpx.Client, client: Any, scope: str) -> dict[str, str]:
    response = http.post(
        "/tenants/acme/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_clocking_writes_flow_into_the_paid_presence_delta(
    server: tuple[httpx.Client, Any],
) -> None:
    http, client = server
    auth = bearer(http, client)
    _, link = walk(http, f"{PAID}?delta&filter=date ge '2026-01-01'", auth)
    link = http.get(link, headers=auth).json()["deltaLink"]  # past the overlap's repeats

    def clock(time: int) -> int:
        body = {"person": {"id": 1}, "date": SUNDAY, "timeOfDayInMinutes": time, "kind": "InOut"}
        response = http.post(CLOCKINGS, json=body, headers=auth)
        assert response.status_code == 201, response.text
        return int(response.headers["Location"].rsplit("/", 1)[1])

    def changes() -> list[Any]:
        nonlocal link
        body = http.get(link, headers=auth).json()
        link = body["deltaLink"]
        return list(body["value"])

    arrival, departure = clock(480), clock(990)
    (change,) = changes()
    assert change["changeType"] == "InsertOrUpdate"
    presence = change["data"]
    assert (presence["person"], presence["date"]) == ({"id": 1}, SUNDAY)
    assert presence["durationInMinutes"] > 0
    assert http.get(f"{PAID}/{presence['id']}", headers=auth).json() == presence

    assert http.delete(f"{CLOCKINGS}/{departure}", headers=auth).status_code == 204
    (change,) = changes()  # the day is incomplete again: the total changes
    assert change["changeType"] == "InsertOrUpdate"
    assert (change["data"]["id"], change["data"]["durationInMinutes"]) == (presence["id"], 0)

    assert http.delete(f"{CLOCKINGS}/{arrival}", headers=auth).status_code == 204
    (change,) = changes()  # no clocking left: the total disappears
    assert change["changeType"] == "Delete" and change["data"]["id"] == presence["id"]
    assert change["data"]["changeVersion"] > presence["changeVersion"]
    assert http.get(f"{PAID}/{presence['id']}", headers=auth).status_code == 404
    assert changes() == []
