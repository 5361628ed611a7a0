"""External references: the query option, custom references, and write bodies.

Contract, "External references", and the tables of seeds 001-003.
"""

from __future__ import annotations

from typing import Any

import pytest

from chronodelta.domain import API_PREFIX, SERVED_SCOPES, Scope
from tests.server.conftest import Api

CLOCKINGS = f"{API_PREFIX}/clockings"
JANUARY = "date ge '2026-01-01' and date le '2026-01-31'"
ALL = SERVED_SCOPES  # what the fixture's client, registered without scopes, has


def get(api: Api, path: str, **params: str) -> Any:
    response = api.http.get(path, params=params, headers=api.auth(*ALL))
    assert response.status_code == 200, response.text
    return response.json()


def reasons(api: Api, path: str, **params: str) -> list[str]:
    response = api.http.get(path, params=params, headers=api.auth(*ALL))
    assert response.status_code == 400, response.text
    found: list[str] = response.json()["error"]["reasons"]
    return found


def test_predefined_references_are_added_to_nested_objects(api: Api) -> None:
    page = get(
        api,
        CLOCKINGS,
        filter=JANUARY,
        externalReferences="(people,@badge-number)(people,@employee-number)"
        "(terminals,@external-code)(activity-definitions,@data-entry-code)"
        "(absence-definitions,@absence-code)",
    )
    people = {p["id"]: p for p in get(api, f"{API_PREFIX}/people")["value"]}
    terminals = {t["id"]: t for t in get(api, f"{API_PREFIX}/terminals")["value"]}
    definitions = {d["id"]: d for d in get(api, f"{API_PREFIX}/activity-definitions")["value"]}
    seen = set()
    for clocking in page["value"]:
        person = people[clocking["person"]["id"]]
        assert clocking["person"]["externalReferences"] == {
            "@badge-number": person["badgeNumber"],
            "@employee-number": person["employeeNumber"],
        }
        if "terminal" in clocking:
            terminal = terminals[clocking["terminal"]["id"]]
            assert clocking["terminal"]["externalReferences"] == {
                "@external-code": terminal["externalCode"]
            }
            seen.add("terminal")
        for level in clocking.get("activityLevels", ()):
            nested = level["activityDefinition"]
            code = definitions[nested["id"]]["dataEntryCode"]
            assert nested["externalReferences"] == {"@data-entry-code": code}
            seen.add("activity")
    assert seen == {"terminal", "activity"}


@pytest.mark.parametrize(
    ("endpoint", "value", "expected"),
    [
        ("clockings", "(persons,@badge-number)", "unknown collection 'persons'"),
        ("clockings", "(people,@badge)", "unknown reference '@badge' for people"),
        ("clockings", "(counter-definitions,@counter-code)", "does not support collection"),
        ("paid-presences", "(terminals,@external-code)", "does not support collection"),
        ("clockings", "(people,HRMID)", "unknown reference 'HRMID' for people"),
        ("clockings", "(people,@badge-number", "expected '(collection,reference)' at position 1"),
        ("clockings", "(people,@badge-number)x", "at position 23"),
        ("clockings", "(people,bad name)", "not a valid reference name"),
        ("clockings", "(people,@badge-number)(people,@badge-number)", "listed twice"),
    ],
)
def test_bad_external_references_are_refused_with_a_reason(
    api: Api, endpoint: str, value: str, expected: str
) -> None:
    found = reasons(api, f"{API_PREFIX}/{endpoint}", filter=JANUARY, externalReferences=value)
    assert any(expected in reason for reason in found), found


def test_custom_references_are_set_read_used_and_removed(api: Api) -> None:
    path = f"{API_PREFIX}/people/1/external-references"
    write = api.auth(Scope.EXTERNAL_REFERENCES_WRITE)
    assert api.http.put(f"{path}/HRMID", json={"value": "E-4821"}, headers=write).status_code == 200
    listed = get(api, path)
    assert listed["id"] == 1 and listed["externalReferences"]["HRMID"] == "E-4821"
    assert {"@badge-number", "@employee-number"} <= set(listed["externalReferences"])

    page = get(api, CLOCKINGS, filter=JANUARY, externalReferences="(people,HRMID)")
    for clocking in page["value"]:
        expected = {"HRMID": "E-4821"} if clocking["person"]["id"] == 1 else None
        assert clocking["person"].get("externalReferences") == expected

    taken = api.http.put(
        f"{API_PREFIX}/people/2/external-references/HRMID", json={"value": "E-4821"}, headers=write
    )
    assert taken.status_code == 409
    assert "already has HRMID 'E-4821'" in taken.json()["error"]["reasons"][0]
    assert api.http.delete(f"{path}/HRMID", headers=write).status_code == 204
    assert api.http.delete(f"{path}/HRMID", headers=write).status_code == 404
    assert "HRMID" not in get(api, path)["externalReferences"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("people/1/external-references/@badge-number", {"value": "1"}, 400),
        ("people/1/external-references/bad%20name", {"value": "1"}, 400),
        ("people/1/external-references/HRMID", {"value": ""}, 400),
        ("people/1/external-references/HRMID", {"value": 7}, 400),
        ("people/999/external-references/HRMID", {"value": "x"}, 404),
        ("clockings/1/external-references/HRMID", {"value": "x"}, 404),
    ],
)
def test_custom_reference_writes_are_checked(
    api: Api, path: str, body: dict[str, Any], status: int
) -> None:
    response = api.http.put(
        f"{API_PREFIX}/{path}", json=body, headers=api.auth(Scope.EXTERNAL_REFERENCES_WRITE)
    )
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_write_bodies_may_name_records_by_external_reference(api: Api) -> None:
    person = get(api, f"{API_PREFIX}/people/2")
    write = api.auth(Scope.EXTERNAL_REFERENCES_WRITE)
    api.http.put(
        f"{API_PREFIX}/absence-definitions/3/external-references/HR",
        json={"value": "X"},
        headers=write,
    )
    body = {
        "person": {"externalReferences": {"@badge-number": person["badgeNumber"]}},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 600,
        "kind": "Reason",
        "reason": {"externalReferences": {"HR": "X"}},
    }
    created = api.http.post(CLOCKINGS, json=body, headers=api.auth(Scope.CLOCKINGS_WRITE))
    assert created.status_code == 201, created.text
    assert (created.json()["person"], created.json()["reason"]) == ({"id": 2}, {"id": 3})


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        ({"externalReferences": {"@badge-number": "no-such-badge"}}, "no people record has"),
        ({"externalReferences": {"@external-code": "x"}}, "unknown reference '@external-code'"),
        ({"externalReferences": {}}, "give the record's id or one of its externalReferences"),
        (
            {"externalReferences": {"@badge-number": "1", "@employee-number": "2"}},
            "exactly one external reference",
        ),
    ],
)
def test_bad_references_in_write_bodies_are_refused(
    api: Api, person: dict[str, Any], expected: str
) -> None:
    body = {"person": person, "date": "2026-01-15", "timeOfDayInMinutes": 600, "kind": "InOut"}
    response = api.http.post(CLOCKINGS, json=body, headers=api.auth(Scope.CLOCKINGS_WRITE))
    assert response.status_code == 400, response.text
    assert any(expected in reason for reason in response.json()["error"]["reasons"])


def test_a_delta_keeps_its_external_references(api: Api) -> None:
    headers = api.auth(*ALL)
    params = {
        "filter": "date ge '2026-01-01'",
        "delta": "",
        "externalReferences": "(people,@employee-number)",
    }
    page = api.http.get(CLOCKINGS, params=params, headers=headers).json()
    records = list(page["value"])
    while "nextLink" in page:
        page = api.http.get(page["nextLink"], headers=headers).json()
        records += page["value"]
    assert records and all("@employee-number" in r["person"]["externalReferences"] for r in records)
    link = api.http.get(page["deltaLink"], headers=headers).json()["deltaLink"]
    body = {"person": {"id": 3}, "date": "2026-01-16", "timeOfDayInMinutes": 610, "kind": "InOut"}
    api.http.post(CLOCKINGS, json=body, headers=headers)
    changes = api.http.get(link, headers=headers).json()["value"]
    employee = get(api, f"{API_PREFIX}/people/3")["employeeNumber"]
    assert changes[-1]["data"]["person"] == {
        "id": 3,
        "externalReferences": {"@employee-number": employee},
    }
