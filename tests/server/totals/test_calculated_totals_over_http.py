"""The calculated-totals collection over real HTTP, on SQLite and PostgreSQL.

Contract, "Fidelity": "calculated-totals (scope calculated-totals.read; list, get,
delta, webhooks; filters person, date): changeVersion, id, person.id, date,
normalTimeDurationInMinutes, ... flextimeBalanceInMinutes, shiftDefinition.id; one
record per person and day". The rules are docs/calculation.md's; the server's "today"
is pinned (CHRONODELTA_TODAY) so that the delta's start rules hold whenever this runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from chronodelta.domain import API_PREFIX
from chronodelta.storage import create_engine, tables
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli
from tests.server.totals import calculated

TOTALS = f"{API_PREFIX}/calculated-totals"
CLOCKINGS = f"{API_PREFIX}/clockings"
TODAY = "2026-01-20"
JANUARY = "date ge '2026-01-01' and date le '2026-01-31'"
# The contract's fields, in its order (optional shiftDefinition last).
FIELDS = [
    "changeVersion",
    "id",
    "person",
    "date",
    "normalTimeDurationInMinutes",
    "timePresentDurationInMinutes",
    "calculatedPresenceDurationInMinutes",
    "weeklyHours1DurationInMinutes",
    "weeklyHours2DurationInMinutes",
    "weeklyHours3DurationInMinutes",
    "payPeriodHoursDurationInMinutes",
    "flextimeDurationInMinutes",
    "flextimeBalanceInMinutes",
    "shiftDefinition",
]


@dataclass
class Served:
    http: httpx.Client
    client: dict[str, Any]
    database_url: str

    def auth(self, scope: str | None = None) -> dict[str, str]:
        if scope is None:
            return bearer(self.http, self.client)
        response = self.http.post(
            "/tenants/acme/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client["client_id"],
                "client_secret": self.client["client_secret"],
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def from_scratch(self) -> dict[Any, Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return calculated.from_database(connection, 1)
        finally:
            engine.dispose()


# One server per database for the module: the tests that write put back what they
# changed, and every comparison is with the database as it is at that moment.
@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("totals"))
    client = provision_with_cli(url, people=8, days=30, until=TODAY)
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "40"}
    with (
        ServerProcess(url, env=env) as process,
        httpx.Client(
            base_url=process.base_url, headers={"User-Agent": "Totals/1.0 (Acme)"}
        ) as http,
    ):
        yield Served(http, client, url)


def walk(http: httpx.Client, url: str, auth: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
    """Every record of a list or delta snapshot, and its last page."""
    response = http.get(url, headers=auth)
    assert response.status_code == 200, response.text
    page = response.json()
    records = list(page["value"])
    while "nextLink" in page:
        response = http.get(page["nextLink"], headers=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["value"]
    return records, page


def test_list_and_get_serve_one_record_per_person_day(served: Served) -> None:
    http, auth = served.http, served.auth()
    records, _ = walk(http, f"{TOTALS}?filter={JANUARY}", auth)
    assert records
    for record in records:
        assert list(record) == [name for name in FIELDS if name in record]
        assert "2026-01-01" <= record["date"] <= "2026-01-31"
    keys = [(r["person"]["id"], r["date"]) for r in records]
    assert len(keys) == len(set(keys))
    expected = {k: v for k, v in served.from_scratch().items() if k[1] >= "2026-01-01"}
    assert calculated.without_identity(records) == expected
    # The filters of paid presences: person (eq, in) and date.
    mine, _ = walk(http, f"{TOTALS}?filter={JANUARY} and person eq 1", auth)
    assert mine and {r["person"]["id"] for r in mine} == {1}
    two, _ = walk(http, f"{TOTALS}?filter={JANUARY} and person in (1, 2)", auth)
    assert {r["person"]["id"] for r in two} == {1, 2}
    assert sorted(r["id"] for r in two) == sorted(
        r["id"] for r in records if r["person"]["id"] in (1, 2)
    )
    got = http.get(f"{TOTALS}/{records[0]['id']}", headers=auth)
    assert got.status_code == 200 and got.json() == records[0]
    assert http.get(f"{TOTALS}/999999", headers=auth).status_code == 404
    assert http.get(f"{TOTALS}?filter=kind eq 'InOut'", headers=auth).status_code == 400


def test_external_references_of_people_and_shift_definitions(served: Served) -> None:
    """Contract: calculated-totals accept the paid presences' referenced collections."""
    http, auth = served.http, served.auth()
    refs = "(people,@badge-number)(shift-definitions,@shift-code)"
    records, _ = walk(http, f"{TOTALS}?filter={JANUARY}&externalReferences={refs}", auth)
    assert all("@badge-number" in r["person"]["externalReferences"] for r in records)
    shifted = [r for r in records if "shiftDefinition" in r]
    assert shifted and all(
        "@shift-code" in r["shiftDefinition"]["externalReferences"] for r in shifted
    )
    one = http.get(f"{TOTALS}/{records[0]['id']}?externalReferences={refs}", headers=auth)
    assert one.json() == records[0]
    delta, _ = walk(
        http, f"{TOTALS}?delta&filter=date ge '2026-01-01'&externalReferences={refs}", auth
    )
    assert delta and all("@badge-number" in r["person"]["externalReferences"] for r in delta)
    bad = http.get(
        f"{TOTALS}?filter={JANUARY}&externalReferences=(terminals,@external-code)", headers=auth
    )
    assert bad.status_code == 400 and bad.json()["error"]["reasons"]


def test_the_scope_is_calculated_totals_read(served: Served) -> None:
    """Contract: "calculated-totals (scope calculated-totals.read ...)"; seeds: 401 for
    "insufficient scope"."""
    http = served.http
    totals = served.auth("connector-protimeapi-calculated-totals.read")
    records, last = walk(http, f"{TOTALS}?delta&filter=date ge '2026-01-01'", totals)
    link = last["deltaLink"]
    wrong = served.auth(
        "connector-protimeapi-clockings.read connector-protimeapi-activity-durations.read"
    )
    for url in (
        f"{TOTALS}?filter={JANUARY}",
        f"{TOTALS}/{records[0]['id']}",
        f"{TOTALS}?delta&filter=date ge '2026-01-01'",
        link,
    ):
        assert http.get(url, headers=wrong).status_code == 401, url
        assert http.get(url).status_code == 401, url
    assert http.get(link, headers=totals).status_code == 200


def test_a_write_on_an_earlier_day_changes_the_later_days_in_the_delta(served: Served) -> None:
    """docs/calculation.md, "What one write rewrites": an evening's two extra hours on
    a day of the week of Monday 5 January raise that day's flextime, and by as much
    the balance of every later January day of that person, each an InsertOrUpdate
    with a new changeVersion; the weekly hours change only through Sunday 11 January."""
    http, auth = served.http, served.auth()
    before, last = walk(http, f"{TOTALS}?delta&filter=date ge '2026-01-01'", auth)
    link = http.get(last["deltaLink"], headers=auth).json()["deltaLink"]  # past the overlap
    # The first day person 1 worked in the week of Monday 5 January (the demo data
    # has a day off now and then).
    day = min(r["date"] for r in before if r["person"]["id"] == 1 and r["date"] >= "2026-01-05")
    assert day <= "2026-01-09"
    old = {r["date"]: r for r in before if r["person"]["id"] == 1 and r["date"] >= day}
    assert max(old) > "2026-01-11"

    def changes() -> list[Any]:
        nonlocal link
        response = http.get(link, headers=auth)
        assert response.status_code == 200, response.text
        link = response.json()["deltaLink"]
        return list(response.json()["value"])

    created = []
    for time in (1080, 1200):  # 18:00 to 20:00
        body = {
            "person": {"id": 1},
            "date": day,
            "timeOfDayInMinutes": time,
            "kind": "InOut",
        }
        response = http.post(CLOCKINGS, json=body, headers=auth)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    changed = {c["data"]["date"]: c for c in changes()}
    assert set(changed) == set(old) and all(
        c["changeType"] == "InsertOrUpdate" for c in changed.values()
    )
    # At least the 120 minutes; more when the gap before 18:00 covers a break the
    # person had not clocked (docs/calculation.md: it is then no longer taken off).
    gain = changed[day]["data"]["flextimeDurationInMinutes"] - old[day]["flextimeDurationInMinutes"]
    assert 120 <= gain <= 150
    for date, change in changed.items():
        new, was = change["data"], old[date]
        assert new["id"] == was["id"] and new["changeVersion"] > was["changeVersion"]
        assert new["flextimeBalanceInMinutes"] == was["flextimeBalanceInMinutes"] + gain
        pay = "payPeriodHoursDurationInMinutes"
        assert new[pay] == was[pay] + gain
        weekly = gain if date <= "2026-01-11" else 0
        assert new["weeklyHours1DurationInMinutes"] == was["weeklyHours1DurationInMinutes"] + weekly
    listed, _ = walk(http, f"{TOTALS}?filter={JANUARY} and person eq 1", auth)
    assert {r["date"]: r for r in listed if r["date"] >= day} == {
        d: c["data"] for d, c in changed.items()
    }

    for clocking_id in created:
        assert http.delete(f"{CLOCKINGS}/{clocking_id}", headers=auth).status_code == 204
    back = {c["data"]["date"]: c["data"] for c in changes()}
    assert calculated.without_identity(back.values()) == calculated.without_identity(old.values())


def test_a_day_that_loses_its_clockings_is_a_delete(served: Served) -> None:
    """A Sunday's clockings make a record and raise Monday's balance; deleting them
    removes the record (Delete in the delta) and puts Monday back."""
    http, auth = served.http, served.auth()
    _, last = walk(http, f"{TOTALS}?delta&filter=date ge '2026-01-01'", auth)
    link = http.get(last["deltaLink"], headers=auth).json()["deltaLink"]
    ids = []
    for time in (600, 720):
        body = {
            "person": {"id": 1},
            "date": "2026-01-18",
            "timeOfDayInMinutes": time,
            "kind": "InOut",
        }
        ids.append(http.post(CLOCKINGS, json=body, headers=auth).json()["id"])
    body = http.get(link, headers=auth).json()
    link = body["deltaLink"]
    sunday = next(c["data"] for c in body["value"] if c["data"]["date"] == "2026-01-18")
    assert (sunday["normalTimeDurationInMinutes"], sunday["flextimeDurationInMinutes"]) == (0, 120)
    assert "shiftDefinition" not in sunday  # a day off plans no shift
    for clocking_id in ids:
        http.delete(f"{CLOCKINGS}/{clocking_id}", headers=auth)
    body = http.get(link, headers=auth).json()
    gone = [c for c in body["value"] if c["data"]["id"] == sunday["id"]]
    assert [c["changeType"] for c in gone] == ["Delete"]
    assert http.get(f"{TOTALS}/{sunday['id']}", headers=auth).status_code == 404


def test_the_seed_error_table_holds(served: Served) -> None:
    """Seed 002's rules for the paid presences' delta, which this collection shares."""
    http, auth = served.http, served.auth()
    statuses = {
        "bad syntax": http.get(f"{TOTALS}?delta&filter=date gt '2025-01-01'", headers=auth),
        "people in delta": http.get(
            f"{TOTALS}?delta&filter=date ge '2025-01-01' and person eq 1", headers=auth
        ),
        "no date": http.get(f"{TOTALS}?filter=person eq 1", headers=auth),
    }
    assert {name: r.status_code for name, r in statuses.items()} == dict.fromkeys(statuses, 400)
    t = tables.calculated_totals.c
    engine = create_engine(served.database_url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(sa.select(sa.func.count()).where(t.tenant_id == 1))
    finally:
        engine.dispose()
    records, _ = walk(http, f"{TOTALS}?delta&filter=date ge '2025-01-01'", auth)
    assert len(records) == count
