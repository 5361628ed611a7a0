"""Delta synchronization: starting, snapshot pages, change feeds, lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from chronodelta.domain import Scope
from tests.server.conftest import Api
from tests.server.delta_client import Mirror, follow, start

PATH = "/connector/protimeapi/api/v1/clockings"
RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
SINCE = {"filter": "date ge '2026-01-10'"}


def clocking(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "InOut",
    }
    return {**body, **changes}


def create(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.http.post(PATH, json=clocking(**changes), headers=api.auth(*RW))
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


def put(api: Api, record_id: int, **changes: Any) -> dict[str, Any]:
    response = api.http.put(f"{PATH}/{record_id}", json=clocking(**changes), headers=api.auth(*RW))
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


def server_state(
    api: Api, date_from: str = "2026-01-10", kinds: set[str] | None = None
) -> dict[int, Any]:
    """What the mirror must equal: the records in the delta's filter, read by list."""
    found: dict[int, Any] = {}
    url: str | None = PATH
    params: dict[str, str] | None = {"filter": f"date ge '{date_from}' and date le '2027-01-09'"}
    while url is not None:
        page = api.http.get(url, params=params, headers=api.auth(*RW)).json()
        found.update({r["id"]: r for r in page["value"] if kinds is None or r["kind"] in kinds})
        url, params = page.get("nextLink"), None
    return found


def open_delta(api: Api, params: dict[str, str] = SINCE) -> Mirror:
    return start(api.http, PATH, params, api.auth(*RW))


def test_initial_pages_carry_filter_and_tokens_and_end_with_a_delta_link(api: Api) -> None:
    first = api.http.get(PATH, params={**SINCE, "delta": ""}, headers=api.auth(*RW)).json()
    next_link = first["nextLink"]
    assert next_link.startswith(PATH + "?filter=date%20ge%20'2026-01-10'&continuationToken=")
    assert "&deltaToken=" in next_link
    mirror = open_delta(api)
    assert mirror.delta_link is not None
    assert mirror.delta_link.startswith("/connector/protimeapi/api/v1/delta/clockings?deltaToken=")
    assert mirror.records == server_state(api)


def test_changes_made_while_paging_arrive_in_the_first_delta_call(api: Api) -> None:
    response = api.http.get(PATH, params={**SINCE, "delta": ""}, headers=api.auth(*RW))
    page = response.json()
    mirror = Mirror()
    for record in page["value"]:
        mirror.put(record)
    paged, unpaged = page["value"][0]["id"], max(server_state(api))
    put(api, paged, timeOfDayInMinutes=700)  # already delivered
    put(api, unpaged, date="2026-01-11")  # moves towards pages already sent
    created = create(api, date="2026-01-10")  # sorts before the current page
    api.http.delete(f"{PATH}/{page['value'][1]['id']}", headers=api.auth(*RW))
    link = page["nextLink"]
    while link:
        page = api.http.get(link, headers=api.auth(*RW)).json()
        for record in page["value"]:
            mirror.put(record)
        link = page.get("nextLink")
        mirror.delta_link = page.get("deltaLink")
    assert created["id"] not in mirror.records  # after the snapshot: not in the pages
    follow(api.http, mirror, api.auth(*RW))
    assert mirror.records == server_state(api)


def test_a_record_that_leaves_the_filter_is_a_delete(api: Api) -> None:
    inside = create(api)
    mirror = open_delta(api, {"filter": "date ge '2026-01-10' and kind eq 'InOut'"})
    assert inside["id"] in mirror.records
    moved = put(api, inside["id"], date="2026-01-05")
    changes = follow(api.http, mirror, api.auth(*RW))
    assert {
        "changeType": "Delete",
        "data": {"changeVersion": moved["changeVersion"], "id": inside["id"]},
    } in changes
    other = create(api)
    follow(api.http, mirror, api.auth(*RW))
    put(api, other["id"], kind="Reason", reason={"id": 1})
    kind_changes = follow(api.http, mirror, api.auth(*RW))
    assert [c["changeType"] for c in kind_changes] == ["Delete"]
    assert mirror.records == server_state(api, kinds={"InOut"})


def test_records_never_in_scope_are_not_reported(api: Api) -> None:
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))  # past the overlap window's repeats
    outside = create(api, date="2026-01-02")
    put(api, outside["id"], date="2026-01-02", timeOfDayInMinutes=600)
    put(api, outside["id"], date="2026-01-03", timeOfDayInMinutes=600)
    assert follow(api.http, mirror, api.auth(*RW)) == []


def test_a_replayed_older_link_still_deletes_what_a_later_link_delivered(api: Api) -> None:
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))
    older = mirror.delta_link
    created = create(api)  # delivered by the next call...
    follow(api.http, mirror, api.auth(*RW))
    assert created["id"] in mirror.records
    moved = put(api, created["id"], date="2026-01-03")  # ...then leaves the filter
    mirror.delta_link = older  # the client crashed and replays an older, still valid link
    changes = follow(api.http, mirror, api.auth(*RW))
    assert {
        "changeType": "Delete",
        "data": {"changeVersion": moved["changeVersion"], "id": created["id"]},
    } in changes
    assert mirror.records == server_state(api)


def test_soft_delete_is_an_update_and_purge_is_a_delete(api: Api) -> None:
    first, second = create(api), create(api, timeOfDayInMinutes=900)
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))
    api.http.delete(f"{PATH}/{first['id']}", headers=api.auth(*RW))
    tenant_id = api.tenant_id
    api.backend.purge_clocking(tenant_id, second["id"])
    changes = follow(api.http, mirror, api.auth(*RW))
    assert [(c["changeType"], c["data"]["id"]) for c in changes] == [
        ("InsertOrUpdate", first["id"]),
        ("Delete", second["id"]),
    ]
    assert changes[0]["data"]["status"] == "Deleted"
    assert mirror.records == server_state(api)


def test_each_record_once_in_its_latest_state(api: Api) -> None:
    record = create(api)
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))
    for minute in (600, 610, 620):
        latest = put(api, record["id"], timeOfDayInMinutes=minute)
    changes = follow(api.http, mirror, api.auth(*RW))
    assert changes == [{"changeType": "InsertOrUpdate", "data": latest}]


def test_empty_change_sets_still_give_a_new_delta_link(api: Api) -> None:
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))
    before = mirror.delta_link
    assert follow(api.http, mirror, api.auth(*RW)) == []
    assert mirror.delta_link is not None and mirror.delta_link != before


def test_older_links_of_the_live_delta_replay_since_them(api: Api) -> None:
    mirror = open_delta(api)
    follow(api.http, mirror, api.auth(*RW))
    old_link = mirror.delta_link
    a, b = create(api), create(api, timeOfDayInMinutes=900)
    follow(api.http, mirror, api.auth(*RW))
    assert old_link is not None
    replay = api.http.get(old_link, headers=api.auth(*RW)).json()["value"]
    assert [c["data"]["id"] for c in replay] == [a["id"], b["id"]]


def test_a_new_delta_supersedes_the_old_one(api: Api) -> None:
    old = open_delta(api)
    new = open_delta(api)
    gone = api.http.get(str(old.delta_link), headers=api.auth(*RW))
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "Gone"
    assert "superseded" in gone.json()["error"]["message"]
    assert api.http.get(str(new.delta_link), headers=api.auth(*RW)).status_code == 200


def test_forged_and_foreign_tokens_get_no_data(api: Api) -> None:
    mirror = open_delta(api)
    link = str(mirror.delta_link)
    token_start = link.index("deltaToken=") + len("deltaToken=")
    flipped = "B" if link[token_start] == "A" else "A"
    altered = link[:token_start] + flipped + link[token_start + 1 :]
    assert api.http.get(altered, headers=api.auth(*RW)).status_code == 400
    swapped = link.replace("/delta/clockings", "/delta/people")
    response = api.http.get(swapped, headers=api.auth(Scope.PEOPLE_READ))
    assert response.status_code == 400
    other = api.other_client()
    foreign = api.http.get(link, headers=other)
    assert foreign.status_code == 400
    assert "value" not in foreign.json()


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (None, "date"),
        ("date ge '2030-01-01'", "future"),
        ("date ge '2020-01-01'", "January"),
        ("date ge '2026-01-01' and person eq 1", "person"),
        ("date ge '2026-01-01' and date le '2027-06-01'", "one year"),
    ],
)
def test_delta_filter_rules(api: Api, filter_text: str | None, expected: str) -> None:
    params = {"delta": ""} | ({"filter": filter_text} if filter_text else {})
    response = api.http.get(PATH, params=params, headers=api.auth(*RW))
    assert response.status_code == 400
    assert expected in " ".join(response.json()["error"]["reasons"])


def test_kind_filter_is_allowed_in_a_delta(api: Api) -> None:
    mirror = open_delta(api, {"filter": "date ge '2026-01-10' and kind in ('Reason', 'Activity')"})
    assert mirror.records == server_state(api, kinds={"Reason", "Activity"})


def test_reference_collections_have_deltas_too(api: Api) -> None:
    auth = api.auth(Scope.PEOPLE_READ)
    people = start(api.http, "/connector/protimeapi/api/v1/people", {}, auth)
    seeded = dict(people.records)
    assert len(seeded) == 6
    repeated = follow(api.http, people, auth)  # seeded moments ago: inside the overlap window
    assert all(c["changeType"] == "InsertOrUpdate" for c in repeated)
    assert people.records == seeded
    assert follow(api.http, people, auth) == []
