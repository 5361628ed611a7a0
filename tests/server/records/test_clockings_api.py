"""The clockings collection: every field rule, conditional requests, soft delete, paging."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chronodelta.domain import Scope
from tests.server.conftest import Api

PATH = "/connector/protimeapi/api/v1/clockings"
RW = (Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
JANUARY = {"filter": "date ge '2026-01-01' and date le '2026-01-31'"}


def new_clocking(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "InOut",
    }
    body.update(changes)
    return body


def create(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.http.post(PATH, json=new_clocking(**changes), headers=api.auth(*RW))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def reasons(response: Any) -> str:
    body = response.json()
    assert set(body) == {"error"}
    return " | ".join(body["error"].get("reasons", []))


def test_create_returns_location_and_the_tutorial_shape(api: Api) -> None:
    response = api.http.post(PATH, json=new_clocking(), headers=api.auth(*RW))
    assert response.status_code == 201
    record = response.json()
    assert response.headers["location"] == f"{PATH}/{record['id']}"
    assert record == {
        "changeVersion": record["changeVersion"],
        "id": record["id"],
        "calculatedTimeOfDayInMinutes": 510,
        "isGenerated": False,
        "status": "Active",
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "InOut",
    }
    # Upper-case hex (an all-digit version has no case: isupper() would be False).
    assert re.fullmatch(r"[0-9A-F]{20}", record["changeVersion"])


def test_get_has_etag_and_if_none_match_gives_304(api: Api) -> None:
    created = create(api)
    first = api.http.get(f"{PATH}/{created['id']}", headers=api.auth(*RW))
    assert first.json() == created
    etag = first.headers["etag"]
    assert etag == f'"{created["changeVersion"]}"'
    again = api.http.get(
        f"{PATH}/{created['id']}", headers={**api.auth(*RW), "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""


def test_each_write_gets_a_higher_change_version(api: Api) -> None:
    first, second = create(api), create(api, timeOfDayInMinutes=1000)
    assert second["changeVersion"] > first["changeVersion"]
    updated = api.http.put(
        f"{PATH}/{first['id']}", json=new_clocking(timeOfDayInMinutes=515), headers=api.auth(*RW)
    ).json()
    assert updated["changeVersion"] > second["changeVersion"]


def test_put_replaces_and_keeps_the_original_time_of_the_first_edit(api: Api) -> None:
    created = create(api)
    url = f"{PATH}/{created['id']}"
    first = api.http.put(url, json=new_clocking(timeOfDayInMinutes=525), headers=api.auth(*RW))
    assert first.status_code == 200
    assert first.json()["originalTimeOfDayInMinutes"] == 510
    assert first.json()["timeOfDayInMinutes"] == 525
    second = api.http.put(url, json=new_clocking(timeOfDayInMinutes=530), headers=api.auth(*RW))
    assert second.json()["originalTimeOfDayInMinutes"] == 510


def test_put_ignores_read_only_fields(api: Api) -> None:
    created = create(api)
    echoed = {
        **created,
        "status": "Deleted",
        "isGenerated": True,
        "id": 999999,
        "changeVersion": "FFFFFFFFFFFFFFFFFFFF",
    }
    response = api.http.put(f"{PATH}/{created['id']}", json=echoed, headers=api.auth(*RW))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["isGenerated"]) == (created["id"], "Active", False)


def test_stale_if_match_gives_409_and_changes_nothing(api: Api) -> None:
    created = create(api)
    url = f"{PATH}/{created['id']}"
    stale = f'"{created["changeVersion"]}"'
    api.http.put(url, json=new_clocking(timeOfDayInMinutes=600), headers=api.auth(*RW))
    conflict = api.http.put(
        url, json=new_clocking(timeOfDayInMinutes=700), headers={**api.auth(*RW), "If-Match": stale}
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "Conflict"
    assert api.http.get(url, headers=api.auth(*RW)).json()["timeOfDayInMinutes"] == 600


def test_current_if_match_is_accepted(api: Api) -> None:
    created = create(api)
    response = api.http.put(
        f"{PATH}/{created['id']}",
        json=new_clocking(timeOfDayInMinutes=600),
        headers={**api.auth(*RW), "If-Match": f'"{created["changeVersion"]}"'},
    )
    assert response.status_code == 200


def test_delete_is_soft_and_idempotent(api: Api) -> None:
    created = create(api)
    url = f"{PATH}/{created['id']}"
    assert api.http.delete(url, headers=api.auth(*RW)).status_code == 204
    deleted = api.http.get(url, headers=api.auth(*RW)).json()
    assert deleted["status"] == "Deleted"
    assert deleted["changeVersion"] > created["changeVersion"]
    assert api.http.delete(url, headers=api.auth(*RW)).status_code == 204
    assert (
        api.http.get(url, headers=api.auth(*RW)).json()["changeVersion"] == deleted["changeVersion"]
    )
    refused = api.http.put(url, json=new_clocking(), headers=api.auth(*RW))
    assert refused.status_code == 409


def test_unknown_id_is_404_in_the_error_format(api: Api) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = api.http.request(
            method, f"{PATH}/987654", json=new_clocking(), headers=api.auth(*RW)
        )
        assert response.status_code == 404, method
        assert response.json()["error"]["code"] == "NotFound"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"timeOfDayInMinutes": 2881}, "timeOfDayInMinutes"),
        ({"timeOfDayInMinutes": -1441}, "timeOfDayInMinutes"),
        ({"timeOfDayInMinutes": "510"}, "timeOfDayInMinutes"),
        ({"date": "15/01/2026"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"kind": "Lunch"}, "kind"),
        ({"person": {"id": 424242}}, "person.id: 424242 does not exist"),
        ({"terminal": {"id": 424242}}, "terminal.id: 424242 does not exist"),
        ({"reason": {"id": 1}}, "reason: only allowed when kind is Reason"),
        ({"kind": "Reason"}, "reason: required when kind is Reason"),
        ({"kind": "Activity"}, "activityLevels: required"),
        ({"isOpen": True}, "isOpen: only allowed when kind is Reason"),
        ({"geolocation": {"longitude": 200, "latitude": 1}}, "geolocation.longitude"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_bodies_are_400_with_a_reason_naming_the_field(
    api: Api, changes: dict[str, Any], expected: str
) -> None:
    response = api.http.post(PATH, json=new_clocking(**changes), headers=api.auth(*RW))
    assert response.status_code == 400, response.text
    assert expected in reasons(response)


def test_missing_fields_and_malformed_json_are_400(api: Api) -> None:
    missing = api.http.post(PATH, json={"date": "2026-01-15"}, headers=api.auth(*RW))
    assert missing.status_code == 400 and "person" in reasons(missing)
    broken = api.http.post(
        PATH, content=b"{not json", headers={**api.auth(*RW), "Content-Type": "application/json"}
    )
    assert broken.status_code == 400


def bookable_task(api: Api) -> dict[str, Any]:
    """A level-2 activity definition of the demo's current structure (no activeUntil)."""
    definitions = api.http.get(
        "/connector/protimeapi/api/v1/activity-definitions",
        headers=api.auth(Scope.ACTIVITY_DEFINITIONS_READ),
    ).json()["value"]
    return next(d for d in definitions if d["level"] == 2 and "activeUntil" not in d)


def test_reason_and_activity_clockings_round_trip(api: Api) -> None:
    """Seed 003's table (and the contract): activityDefinition.id is a string, a GUID."""
    reason = create(api, kind="Reason", reason={"id": 1}, isOpen=True)
    assert (reason["reason"], reason["isOpen"]) == ({"id": 1}, True)
    task = bookable_task(api)
    activity = create(
        api,
        kind="Activity",
        activityLevels=[
            {"level": 1, "activityDefinition": {"id": task["parent"]["id"]}},
            {"level": 2, "activityDefinition": {"id": task["id"]}},
        ],
    )
    assert activity["activityLevels"][1] == {"level": 2, "activityDefinition": {"id": task["id"]}}
    assert all(isinstance(lv["activityDefinition"]["id"], str) for lv in activity["activityLevels"])
    # A GUID is accepted in upper case, and answered as the server writes it.
    upper = [
        {"level": 1, "activityDefinition": {"id": task["parent"]["id"].upper()}},
        {"level": 2, "activityDefinition": {"id": task["id"].upper()}},
    ]
    body = new_clocking(kind="Activity", activityLevels=upper)
    replaced = api.http.put(f"{PATH}/{activity['id']}", json=body, headers=api.auth(*RW))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["activityLevels"] == activity["activityLevels"]


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (1, "activityLevels.0.activityDefinition.id: Input should be a valid string"),
        ("12", "activityLevels.0.activityDefinition.id: Value error, must be a GUID"),
        ("{00000000-0000-4000-8000-000000000000}", "must be a GUID"),
        ("00000000-0000-4000-8000-000000000000", "activityLevels[0].activityDefinition.id: "
         "00000000-0000-4000-8000-000000000000 does not exist"),
    ],
)  # fmt: skip
def test_activity_definition_ids_must_be_known_guids(
    api: Api, definition: object, expected: str
) -> None:
    """Seed 003: the id is a string, and the vendor's are GUIDs. An integer, another
    string or an unknown GUID is a 400 in the error format, on POST and on PUT."""
    levels = [{"level": 1, "activityDefinition": {"id": definition}}]
    body = new_clocking(kind="Activity", activityLevels=levels)
    posted = api.http.post(PATH, json=body, headers=api.auth(*RW))
    assert posted.status_code == 400 and expected in reasons(posted)
    existing = create(api)
    put = api.http.put(f"{PATH}/{existing['id']}", json=body, headers=api.auth(*RW))
    assert put.status_code == 400 and expected in reasons(put)


def test_an_activity_definition_is_booked_only_while_active(api: Api) -> None:
    """The vendor's activeFrom/activeUntil: "Controls when the definition becomes
    available for registrations" (and when it is no longer)."""
    definitions = api.http.get(
        "/connector/protimeapi/api/v1/activity-definitions",
        headers=api.auth(Scope.ACTIVITY_DEFINITIONS_READ),
    ).json()["value"]
    old = next(d for d in definitions if d["level"] == 1 and "activeUntil" in d)
    levels = [{"level": 1, "activityDefinition": {"id": old["id"]}}]
    late = api.http.post(
        PATH, json=new_clocking(kind="Activity", activityLevels=levels), headers=api.auth(*RW)
    )
    assert f"definition {old['id']} is not active on 2026-01-15" in reasons(late)
    in_time = new_clocking(kind="Activity", activityLevels=levels, date=old["activeUntil"])
    assert api.http.post(PATH, json=in_time, headers=api.auth(*RW)).status_code == 201


def test_activity_levels_must_follow_the_structure(api: Api) -> None:
    task = bookable_task(api)
    wrong_level = api.http.post(
        PATH,
        headers=api.auth(*RW),
        json=new_clocking(
            kind="Activity", activityLevels=[{"level": 1, "activityDefinition": {"id": task["id"]}}]
        ),
    )
    assert "is of level 2, not 1" in reasons(wrong_level)
    gap = api.http.post(
        PATH,
        headers=api.auth(*RW),
        json=new_clocking(
            kind="Activity", activityLevels=[{"level": 2, "activityDefinition": {"id": task["id"]}}]
        ),
    )
    assert "levels must be 1, 2" in reasons(gap)


def test_list_pages_in_date_then_id_order_without_gaps_or_repeats(api: Api) -> None:
    seen: list[dict[str, Any]] = []
    url: str | None = PATH
    params: dict[str, str] | None = JANUARY
    while url is not None:
        page = api.http.get(url, params=params, headers=api.auth(Scope.CLOCKINGS_READ)).json()
        seen.extend(page["value"])
        url, params = page.get("nextLink"), None
    keys = [(r["date"], r["id"]) for r in seen]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert len(seen) > 25  # more than one page
    assert all("2026-01-01" <= r["date"] <= "2026-01-31" for r in seen)


def altered(token: str) -> str:
    """The token with one payload character changed (never a no-op)."""
    return ("B" if token[0] == "A" else "A") + token[1:]


def test_next_link_is_bound_to_its_filter(api: Api) -> None:
    """Contract, "Paging" and "Fidelity": a token reused with another filter, or an
    invalid one, answers 409 "Continuation token conflict"."""
    page = api.http.get(PATH, params=JANUARY, headers=api.auth(Scope.CLOCKINGS_READ)).json()
    token = page["nextLink"].split("continuationToken=")[1]
    other = api.http.get(
        PATH,
        headers=api.auth(Scope.CLOCKINGS_READ),
        params={
            "filter": "date ge '2026-01-02' and date le '2026-01-31'",
            "continuationToken": token,
        },
    )
    assert other.status_code == 409 and "another filter" in reasons(other)
    assert other.json()["error"]["message"] == "Continuation token conflict"
    forged = api.http.get(
        PATH,
        headers=api.auth(Scope.CLOCKINGS_READ),
        params={**JANUARY, "continuationToken": altered(token)},
    )
    assert forged.status_code == 409 and "invalid" in reasons(forged)


def test_filters_by_person_and_kind(api: Api) -> None:
    create(api, kind="Reason", reason={"id": 1}, person={"id": 2})
    response = api.http.get(
        PATH,
        headers=api.auth(Scope.CLOCKINGS_READ),
        params={"filter": "date eq '2026-01-15' and person in (2, 3) and kind eq 'Reason'"},
    )
    records = response.json()["value"]
    assert records and all(r["person"]["id"] in (2, 3) and r["kind"] == "Reason" for r in records)


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        (None, "date"),
        ("date le '2026-01-31'", "start"),  # a start alone is a year; an end alone, no
        ("date ge '2024-01-01' and date le '2026-01-01'", "one year"),
        ("date gt '2026-01-01'", "position"),
        ("colour eq 'red' and date eq '2026-01-01'", "colour"),
        ("person eq 1 or date eq '2026-01-01'", "or"),
    ],
)
def test_bad_filters_are_400_with_a_reason(
    api: Api, filter_text: str | None, expected: str
) -> None:
    params = {"filter": filter_text} if filter_text is not None else {}
    response = api.http.get(PATH, params=params, headers=api.auth(Scope.CLOCKINGS_READ))
    assert response.status_code == 400
    assert expected in reasons(response)
