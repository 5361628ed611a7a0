"""Reference collections in the vendor's shapes, and addressed by external reference,
over real HTTP on SQLite and PostgreSQL (issue 11, items 6 and 7).

Each test cites the line of ``../shared/api-contract.md`` ("Fidelity") it checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from chronodelta.domain import API_PREFIX

from .conftest import Live

LOCALIZED = {"default", "translations"}
SEXES = {"Unknown", "Female", "Male", "Other"}
DURATIONS = {"Unknown", "FullDay", "HalfDay", "Interval", "Duration"}
UNITS = {"Unknown", "Interval", "Duration", "Instance"}


def assert_localized(value: Any) -> None:
    assert set(value) == LOCALIZED, value
    assert isinstance(value["default"], str) and value["default"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in value["translations"].items())


def reasons(response: Any, status: int = 400) -> list[str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    found: list[str] = error.get("reasons", [error["message"]])
    return found


# ---- item 6: the shapes ---------------------------------------------------------------


def test_people_carry_the_vendors_personal_information(live: Live) -> None:
    """Contract: "people (personal information): id, changeVersion, lastName, firstName,
    initials, telephone, mobile, email, address, postalCode, town, countryISOCode,
    nationalityISOCode, sex (Unknown, Female, Male, Other), birthDate, inServiceDate,
    outOfServiceDate (open end when empty), employeeNumber, badgeNumber (unique),
    payGroup, terminalGroup.id"."""
    people = live.every("people")
    assert len(people) == 20
    vendor = {
        "id", "changeVersion", "lastName", "firstName", "initials", "telephone", "mobile",
        "email", "address", "postalCode", "town", "countryISOCode", "nationalityISOCode",
        "sex", "birthDate", "inServiceDate", "outOfServiceDate", "employeeNumber",
        "badgeNumber", "payGroup", "terminalGroup",
    }  # fmt: skip
    extensions = {"shiftDefinition"}  # docs/api.md: the calculation plans days with it
    always = {"id", "changeVersion", "lastName", "firstName", "initials", "address",
              "postalCode", "town", "countryISOCode", "nationalityISOCode", "sex",
              "birthDate", "inServiceDate", "employeeNumber", "badgeNumber", "payGroup",
              "terminalGroup", "shiftDefinition"}  # fmt: skip
    for person in people:
        assert always <= set(person) <= vendor | extensions, person
        assert person["sex"] in SEXES
        assert person["birthDate"] < person["inServiceDate"]
        assert person["initials"] == f"{person['firstName'][0]}.{person['lastName'][0]}."
        assert set(person["terminalGroup"]) == {"id"}
        if "email" in person:  # invented addresses only
            assert person["email"].endswith("@example.com")
        if "outOfServiceDate" in person:
            assert person["outOfServiceDate"] >= person["inServiceDate"]
    badges = [p["badgeNumber"] for p in people]
    assert len(set(badges)) == len(badges)
    assert {p["sex"] for p in people} >= {"Female", "Male"}
    assert {p["payGroup"] for p in people} == {"Employees", "Workers"}


def test_absence_definitions_have_the_vendors_fields(live: Live) -> None:
    """Contract: "absence-definitions: changeVersion, id, name.default, name.translations,
    code, friendlyName, friendlyCode, allowedDurations (Unknown, FullDay, HalfDay,
    Interval, Duration), isEnabled, isReasonForClocking, absenceGroup.id"."""
    records = live.every("absence-definitions")
    for record in records:
        assert set(record) == {
            "changeVersion", "id", "name", "code", "friendlyName", "friendlyCode",
            "allowedDurations", "isEnabled", "isReasonForClocking", "absenceGroup",
        }  # fmt: skip
        for text in ("name", "friendlyName", "friendlyCode"):
            assert_localized(record[text])
        assert record["allowedDurations"] and set(record["allowedDurations"]) <= DURATIONS
        assert set(record["absenceGroup"]) == {"id"}
    sick = next(r for r in records if r["code"] == "SICK")
    assert sick["name"] == {
        "default": "Sickness",
        "translations": {"fr": "Maladie", "nl": "Ziekte"},
    }
    assert {r["isReasonForClocking"] for r in records} == {True, False}
    assert {r["isEnabled"] for r in records} == {True, False}


def test_counter_and_shift_definitions_and_terminals_have_the_vendors_fields(live: Live) -> None:
    """Contract: "counter-definitions ...: changeVersion, id, name, code, friendlyName,
    friendlyCode, isEnabled, counterGroup.id, unit (Unknown, Interval, Duration,
    Instance). shift-definitions: changeVersion, id, name, code, friendlyName,
    isEnabled." Terminals take the same name shape."""
    for counter in live.every("counter-definitions"):
        assert set(counter) == {
            "changeVersion", "id", "name", "code", "friendlyName", "friendlyCode",
            "isEnabled", "counterGroup", "unit",
        }  # fmt: skip
        assert_localized(counter["name"])
        assert counter["unit"] in UNITS
    for shift in live.every("shift-definitions"):
        ours = {"startTimeInMinutes", "endTimeInMinutes", "breakInMinutes"}  # extensions
        assert (
            set(shift)
            == {"changeVersion", "id", "name", "code", "friendlyName", "isEnabled"} | ours
        )
        assert_localized(shift["name"])
        assert_localized(shift["friendlyName"])
    for terminal in live.every("terminals"):
        assert set(terminal) == {"changeVersion", "id", "name", "externalCode", "isEnabled"}
        assert_localized(terminal["name"])


def test_counter_definitions_filter_on_counter_group_and_enabled(live: Live) -> None:
    """Contract: "counter-definitions (filters `counter-group`, `enabled`)"."""
    every = live.every("counter-definitions")
    by_group = live.every("counter-definitions", filter="counter-group in (1, 3)")
    assert by_group and {r["id"] for r in by_group} == {
        r["id"] for r in every if r["counterGroup"]["id"] in (1, 3)
    }
    disabled = live.every("counter-definitions", filter="enabled eq false")
    assert [r["id"] for r in disabled] == [r["id"] for r in every if not r["isEnabled"]] != []
    both = live.every("counter-definitions", filter="counter-group eq 2 and enabled eq true")
    assert {r["id"] for r in both} == {
        r["id"] for r in every if r["counterGroup"]["id"] == 2 and r["isEnabled"]
    }
    assert live.every("counter-definitions", filter="counter-group eq 99") == []
    # Paging keeps the filter (7 per page here: all six fit, so page another way too).
    either = live.every("counter-definitions", filter="enabled eq true or enabled eq false")
    assert [r["id"] for r in either] == [r["id"] for r in every]


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("counter-definitions", "enabled eq 1", "'enabled' takes true or false"),
        ("counter-definitions", "counter-group eq 'x'", "'counter-group' takes whole numbers"),
        ("counter-definitions", "unit eq 'Duration'", "Unknown filter field 'unit'"),
        ("counter-definitions", "enabled gt true", "Filter syntax error"),
        ("people", "enabled eq true", "does not support filter"),
        ("absence-definitions", "counter-group eq 1", "does not support filter"),
    ],
)
def test_bad_reference_filters_are_400(live: Live, path: str, text: str, expected: str) -> None:
    """Contract, "Filtering": "A malformed filter, an unknown field ... gives 400"."""
    assert any(expected in reason for reason in reasons(live.get(path, filter=text)))


def test_a_counter_definitions_delta_takes_no_filter(live: Live) -> None:
    """docs/api.md: a reference delta sends every record (a filter there could not say
    when a record leaves it)."""
    response = live.get("counter-definitions", filter="enabled eq true", delta="")
    assert any("in a delta" in reason for reason in reasons(response))


# ---- item 7: addressing by reference, and references on reference collections ---------

PREDEFINED = [
    ("people", "@badge-number", "badgeNumber"),
    ("people", "@employee-number", "employeeNumber"),
    ("terminals", "@external-code", "externalCode"),
    ("absence-definitions", "@absence-code", "code"),
    ("counter-definitions", "@counter-code", "code"),
    ("shift-definitions", "@shift-code", "code"),
]  # activity definitions: GUID ids and routes of their own (tests/server/activities/)


@pytest.mark.parametrize(("collection", "reference", "field"), PREDEFINED)
def test_a_record_is_addressed_by_its_own_reference(
    live: Live, collection: str, reference: str, field: str
) -> None:
    """Contract: "`/people/{PersonReference}`, `/shift-definitions/{ref}`,
    `/absence-definitions/{ref}`, `/counter-definitions/{ref}`"; issue 11 item 7:
    `GET /people/{value}?externalReferences=(people,@badge-number)` returns the record
    whose reference has that value, which carries it."""
    records = live.every(collection)
    target = records[len(records) // 2]
    found = live.ok(
        f"{collection}/{target[field]}", externalReferences=f"({collection},{reference})"
    )
    assert found == {**target, "externalReferences": {reference: target[field]}}
    assert live.ok(f"{collection}/{target['id']}") == target  # without: the id


@pytest.mark.parametrize(("collection", "reference", "_field"), PREDEFINED)
def test_no_record_with_the_value_is_a_404_in_the_error_format(
    live: Live, collection: str, reference: str, _field: str
) -> None:
    """Issue 11 item 7: "404 in the error format if none"."""
    response = live.get(
        f"{collection}/NO-SUCH-VALUE", externalReferences=f"({collection},{reference})"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"
    assert "NO-SUCH-VALUE" in response.json()["error"]["message"]
    for value in ("abc", "0", "-1", "99999999999999999999", "1.0"):  # no such id
        assert live.get(f"{collection}/{value}").status_code == 404


def test_a_person_is_addressed_by_a_custom_reference(live: Live) -> None:
    """Contract, "External references": custom references are set by the integrator;
    `GET /absence-groups/SICK-LEAVE?externalReferences=(absence-groups,
    customAbsenceGroupCode)` is the vendor's example of addressing by one."""
    put = live.http.put(
        f"{API_PREFIX}/people/4/external-references/customPersonCode",
        json={"value": "HR 0004 é"},
        headers=live.auth,
    )
    assert put.status_code == 200, put.text
    found = live.ok(
        "people/HR%200004%20%C3%A9",
        externalReferences="(people,customPersonCode)(shift-definitions,@shift-code)",
    )
    assert found["id"] == 4
    assert found["externalReferences"] == {"customPersonCode": "HR 0004 é"}
    assert "@shift-code" in found["shiftDefinition"]["externalReferences"]
    # The first pair of the collection's own names the record; the others are added.
    badge = live.ok("people/4")["badgeNumber"]
    both = live.ok(
        f"people/{badge}", externalReferences="(people,@badge-number)(people,customPersonCode)"
    )
    assert both["externalReferences"] == {"@badge-number": badge, "customPersonCode": "HR 0004 é"}


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("people", "(persons,@badge-number)", "unknown collection 'persons'"),
        ("people", "(people,@badge)", "unknown reference '@badge' for people"),
        ("people", "(terminals,@external-code)", "does not support collection 'terminals'"),
        ("absence-definitions", "(absence-groups,x)", "unknown collection 'absence-groups'"),
        ("shift-definitions", "(shift-definitions,neverSet)", "unknown reference 'neverSet'"),
        ("counter-definitions", "(counter-definitions,@counter-code", "expected '(collection"),
        ("people/1", "(people,@badge-number)(people,@badge-number)", "listed twice"),
        ("terminals/1", "", "empty"),
    ],
)
def test_bad_external_references_on_reference_collections_are_400(
    live: Live, path: str, text: str, expected: str
) -> None:
    """Issue 11 item 7: "`externalReferences` on reference collections is validated
    (400 on a bad one)"; contract: "An unknown collection or reference gives 400"."""
    found = reasons(live.get(path, externalReferences=text))
    assert any(expected in reason for reason in found), found


def test_lists_carry_the_references_on_every_page(live: Live) -> None:
    """Contract: "Reference collections accept `externalReferences` for their own and
    related collections": on the records themselves and on their nested objects, on
    every page (the page size is 7 here)."""
    text = "(people,@employee-number)(shift-definitions,@shift-code)"
    first = live.ok("people", externalReferences=text)
    assert "externalReferences=(people,@employee-number)" in first["nextLink"]
    people = live.every("people", externalReferences=text)
    shifts = {s["id"]: s["code"] for s in live.every("shift-definitions")}
    assert len(people) == 20
    for person in people:
        assert person["externalReferences"] == {"@employee-number": person["employeeNumber"]}
        nested = person["shiftDefinition"]
        assert nested["externalReferences"] == {"@shift-code": shifts[nested["id"]]}


def test_a_reference_collection_delta_keeps_its_references(live: Live) -> None:
    """Contract, "Delta": "`externalReferences` works with delta as with lists"."""
    records = live.every(
        "absence-definitions", delta="", externalReferences="(absence-definitions,@absence-code)"
    )
    assert len(records) == 8
    assert all(r["externalReferences"] == {"@absence-code": r["code"]} for r in records)


def test_only_enabled_reasons_for_clocking_can_be_a_clockings_reason(live: Live) -> None:
    """The vendor's absence definitions: "isReasonForClocking: Indicates if this absence
    can be used as a reason for clockings" (contract: "isEnabled, isReasonForClocking")."""
    definitions = {r["code"]: r for r in live.every("absence-definitions")}
    body = {"person": {"id": 1}, "date": "2026-01-19", "timeOfDayInMinutes": 600}
    outcomes = {}
    for code in ("DOC", "VAC", "EDU"):  # a reason; annual leave; a disabled one
        reason = {"id": definitions[code]["id"]}
        response = live.http.post(
            f"{API_PREFIX}/clockings",
            json={**body, "kind": "Reason", "reason": reason},
            headers=live.auth,
        )
        outcomes[code] = (response.status_code, response.json().get("error", {}).get("reasons"))
    assert outcomes["DOC"][0] == 201
    assert outcomes["VAC"] == (
        400,
        [f"reason.id: absence definition {definitions['VAC']['id']} is not a reason for clocking"],
    )
    assert outcomes["EDU"] == (
        400,
        [f"reason.id: absence definition {definitions['EDU']['id']} is not enabled"],
    )


def test_an_activity_definition_is_addressed_by_its_own_reference(live: Live) -> None:
    """Issue 11, item 7 for activity definitions, which have their own routes: GET
    /activity-definitions/{value}?externalReferences=(activity-definitions,@...) finds
    the definition whose reference has that value, and shows the reference."""
    definitions = live.every("activity-definitions")
    wanted = next(d for d in definitions if d.get("dataEntryCode"))
    code = wanted["dataEntryCode"]
    refs = "(activity-definitions,@data-entry-code)"
    found = live.ok(f"activity-definitions/{code}", externalReferences=refs)
    assert found["id"] == wanted["id"]
    assert found["externalReferences"] == {"@data-entry-code": code}
    # With its own pair the path is that reference's value, as for people; without, a GUID.
    assert live.ok(f"activity-definitions/{wanted['id']}")["id"] == wanted["id"]
    assert live.get("activity-definitions/NO-SUCH-CODE", externalReferences=refs).status_code == 404
    assert live.get(f"activity-definitions/{code}").status_code == 404  # not a GUID: no id
    bad = live.get(f"activity-definitions/{wanted['id']}", externalReferences="(people,@x)")
    assert reasons(bad)


def test_activity_definition_lists_and_levels_carry_their_references(live: Live) -> None:
    """Contract, "Addressing by reference": reference collections accept
    externalReferences for their own and related collections, on every page."""
    refs = "(activity-definitions,@external-reference)"
    listed = live.every("activity-definitions", externalReferences=refs)
    assert len(listed) > 7  # several pages of 7
    for d in listed:
        assert d["externalReferences"] == {"@external-reference": d["externalReference"]}
        if "parent" in d:
            assert set(d["parent"]["externalReferences"]) == {"@external-reference"}
    child = next(d for d in listed if "parent" in d)
    level = f"activity-structure-versions/{child['structureVersion']}/levels/2/activity-definitions"
    on_level = live.every(level, externalReferences=refs)
    assert child["id"] in {d["id"] for d in on_level}
    assert all("externalReferences" in d for d in on_level)
    one = live.ok(f"{level}/{child['id']}", externalReferences=refs)
    assert one["externalReferences"] == child["externalReferences"]
    assert reasons(live.get("activity-definitions", externalReferences="(people,@badge-number)"))
