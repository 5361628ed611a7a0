"""Models from wire dicts: every collection, optional fields, external references, raw."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chronodelta.client import (
    AbsenceDefinition,
    ActivityDefinition,
    ActivityDuration,
    ActivityLevel,
    CalculatedTotal,
    Clocking,
    ClockingInput,
    CounterDefinition,
    Geolocation,
    InvalidResponse,
    LocalizedText,
    PaidPresence,
    Person,
    Ref,
    ShiftDefinition,
    Terminal,
)
from chronodelta.client._paging import parse_record
from chronodelta.domain import ClockingKind, ClockingStatus

# Seed 004, step 3: a clocking as the vendor returns it.
TUTORIAL = {
    "changeVersion": "0000090200004CE0000A",
    "id": 19250,
    "calculatedTimeOfDayInMinutes": 510,
    "isGenerated": False,
    "status": "Active",
    "person": {"id": 1},
    "date": "2026-01-15",
    "timeOfDayInMinutes": 510,
    "kind": "InOut",
}

# Seed 003: activityDefinition.id is a string; the vendor's are GUIDs.
PROJECT, TASK = "2f1b6c1e-9a3d-5e47-8b0c-1d2e3f4a5b6c", "7c9d0e1f-2a3b-5c4d-9e5f-6a7b8c9d0e1f"
FULL_CLOCKING = {
    **TUTORIAL,
    "kind": "Activity",
    "originalTimeOfDayInMinutes": 500,
    "person": {"id": 1, "externalReferences": {"@badge-number": "6767676"}},
    "terminal": {"id": 3, "externalReferences": {"@external-code": "T-3"}},
    "geolocation": {"longitude": 4.35, "latitude": 50.85},
    "activityLevels": [
        {"level": 1, "activityDefinition": {"id": PROJECT}},
        {"level": 2, "activityDefinition": {"id": TASK}},
    ],
}


def test_a_clocking_as_in_the_tutorial() -> None:
    record = Clocking.from_wire(TUTORIAL)
    assert record == Clocking(
        change_version="0000090200004CE0000A",
        id=19250,
        person=Ref(1),
        date=dt.date(2026, 1, 15),
        time_of_day_in_minutes=510,
        kind="InOut",
        status="Active",
        calculated_time_of_day_in_minutes=510,
        is_generated=False,
    )
    assert record.kind == ClockingKind.IN_OUT and record.status == ClockingStatus.ACTIVE
    assert record.raw is TUTORIAL
    assert record.etag == '"0000090200004CE0000A"'
    assert not record.is_deleted
    assert Clocking.from_wire({**TUTORIAL, "status": "Deleted"}).is_deleted
    assert (record.terminal, record.reason, record.geolocation, record.activity_levels) == (
        None,
        None,
        None,
        (),
    )


def test_a_clocking_with_every_optional_field_and_external_references() -> None:
    record = Clocking.from_wire(FULL_CLOCKING)
    assert record.person == Ref(1, {"@badge-number": "6767676"})
    assert record.terminal == Ref(3, {"@external-code": "T-3"})
    assert record.geolocation == Geolocation(4.35, 50.85)
    assert record.original_time_of_day_in_minutes == 500
    assert record.activity_levels == (ActivityLevel(1, Ref(PROJECT)), ActivityLevel(2, Ref(TASK)))
    reason = Clocking.from_wire({**TUTORIAL, "kind": "Reason", "reason": {"id": 4}, "isOpen": True})
    assert (reason.reason, reason.is_open) == (Ref(4), True)


def test_a_clocking_goes_back_to_its_writable_fields() -> None:
    record = Clocking.from_wire(FULL_CLOCKING)
    body = record.to_input().to_wire()
    assert body == {
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "Activity",
        "terminal": {"id": 3},
        "geolocation": {"longitude": 4.35, "latitude": 50.85},
        "activityLevels": [
            {"level": 1, "activityDefinition": {"id": PROJECT}},
            {"level": 2, "activityDefinition": {"id": TASK}},
        ],
    }


def test_a_clocking_input_writes_only_what_is_set() -> None:
    reason = ClockingInput(
        person_id=2,
        date=dt.date(2026, 2, 1),
        time_of_day_in_minutes=-30,
        kind=ClockingKind.REASON,
        reason_id=5,
        is_open=False,
    )
    assert reason.to_wire() == {
        "person": {"id": 2},
        "date": "2026-02-01",
        "timeOfDayInMinutes": -30,
        "kind": "Reason",
        "reason": {"id": 5},
        "isOpen": False,
    }


def test_records_compare_by_fields_not_by_raw() -> None:
    extra = {**TUTORIAL, "someFutureField": 1}
    assert Clocking.from_wire(extra) == Clocking.from_wire(TUTORIAL)
    assert Clocking.from_wire(extra).raw["someFutureField"] == 1
    assert "raw" not in repr(Clocking.from_wire(extra))


def test_paid_presences() -> None:
    wire: dict[str, Any] = {
        "changeVersion": "0000000000000000000B",
        "id": 8,
        "person": {"id": 3, "externalReferences": {"@employee-number": "E3"}},
        "date": "2026-01-14",
        "durationInMinutes": 465,
        "shiftDefinition": {"id": 2, "externalReferences": {"@shift-code": "DAY"}},
    }
    record = PaidPresence.from_wire(wire)
    assert record == PaidPresence(
        "0000000000000000000B",
        8,
        Ref(3, {"@employee-number": "E3"}),
        dt.date(2026, 1, 14),
        465,
        Ref(2, {"@shift-code": "DAY"}),
    )
    del wire["shiftDefinition"]
    assert PaidPresence.from_wire(wire).shift_definition is None
    assert PaidPresence.from_wire(wire).raw is wire


def test_calculated_totals() -> None:
    """Contract, "Fidelity": calculated-totals' fields, all minutes."""
    wire: dict[str, Any] = {
        "changeVersion": "0000000000000000000C",
        "id": 9,
        "person": {"id": 3},
        "date": "2026-01-14",
        "normalTimeDurationInMinutes": 480,
        "timePresentDurationInMinutes": 540,
        "calculatedPresenceDurationInMinutes": 510,
        "weeklyHours1DurationInMinutes": 1500,
        "weeklyHours2DurationInMinutes": 1590,
        "weeklyHours3DurationInMinutes": 1440,
        "payPeriodHoursDurationInMinutes": 4500,
        "flextimeDurationInMinutes": 30,
        "flextimeBalanceInMinutes": -45,
        "shiftDefinition": {"id": 1, "externalReferences": {"@shift-code": "DAY"}},
    }
    record = CalculatedTotal.from_wire(wire)
    assert record == CalculatedTotal(
        "0000000000000000000C",
        9,
        Ref(3),
        dt.date(2026, 1, 14),
        480,
        540,
        510,
        1500,
        1590,
        1440,
        4500,
        30,
        -45,
        Ref(1, {"@shift-code": "DAY"}),
    )
    del wire["shiftDefinition"]
    assert CalculatedTotal.from_wire(wire).shift_definition is None
    assert CalculatedTotal.from_wire(wire).raw is wire


def test_activity_durations_with_the_seeds_string_ids() -> None:
    wire = {
        "changeVersion": "0000000000000000000C",
        "id": 9,
        "person": {"id": 3},
        "date": "2026-01-14",
        "durationInMinutes": 120,
        "activityLevels": [
            {"level": 1, "activityDefinition": {"id": PROJECT}},
            {"level": 2,
             "activityDefinition": {"id": TASK, "externalReferences": {"@data-entry-code": "D12"}}},
        ],
        "absenceDefinition": {"id": 4},
        "request": {"id": "REQ-77"},
        "counterDefinitions": [{"id": 1}, {"id": 2, "externalReferences": {"@counter-code": "OT"}}],
        "status": "Manual",
        "isAuthorized": True,
    }  # fmt: skip
    record = ActivityDuration.from_wire(wire)
    assert record == ActivityDuration(
        change_version="0000000000000000000C",
        id=9,
        person=Ref(3),
        date=dt.date(2026, 1, 14),
        duration_in_minutes=120,
        activity_levels=(
            ActivityLevel(1, Ref(PROJECT)),
            ActivityLevel(2, Ref(TASK, {"@data-entry-code": "D12"})),
        ),
        absence_definition=Ref(4),
        request=Ref("REQ-77"),
        counter_definitions=(Ref(1), Ref(2, {"@counter-code": "OT"})),
        status="Manual",
        is_authorized=True,
    )


def test_a_minimal_activity_duration() -> None:
    wire = {
        "changeVersion": "0000000000000000000D",
        "id": 10,
        "person": {"id": 1},
        "date": "2026-01-13",
        "durationInMinutes": 60,
        "status": "Auto",
        "isAuthorized": False,
    }
    record = ActivityDuration.from_wire(wire)
    assert (record.activity_levels, record.counter_definitions) == ((), ())
    assert (record.absence_definition, record.request) == (None, None)
    assert (record.status, record.is_authorized) == ("Auto", False)


@pytest.mark.parametrize(
    ("parse", "wire", "expected"),
    [
        (
            Person.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 1, "firstName": "Ann",
             "lastName": "Lee", "badgeNumber": "6767676", "employeeNumber": "E1",
             "inServiceDate": "2020-03-01", "outOfServiceDate": "2026-06-30",
             "shiftDefinition": {"id": 2}},
            Person("0000000000000000000A", 1, "Ann", "Lee", "6767676", "E1",
                   dt.date(2020, 3, 1), dt.date(2026, 6, 30), Ref(2)),
        ),
        (  # the vendor's personal information fields, and the person's own reference
            Person.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 2, "lastName": "Ng",
             "firstName": "Bo", "initials": "B.N.", "telephone": "+32 2 555 01 02",
             "mobile": "+32 470 55 50 01", "email": "bo.ng@example.com",
             "address": "Kiezelpad 3", "postalCode": "3000", "town": "Leuven",
             "countryISOCode": "BE", "nationalityISOCode": "BE", "sex": "Other",
             "birthDate": "1990-02-03", "inServiceDate": "2021-01-01",
             "employeeNumber": "E2", "payGroup": "Workers", "terminalGroup": {"id": 2},
             "badgeNumber": "1", "externalReferences": {"@badge-number": "1"}},
            Person("0000000000000000000A", 2, "Bo", "Ng", "1", "E2", dt.date(2021, 1, 1),
                   initials="B.N.", telephone="+32 2 555 01 02", mobile="+32 470 55 50 01",
                   email="bo.ng@example.com", address="Kiezelpad 3", postal_code="3000",
                   town="Leuven", country_iso_code="BE", nationality_iso_code="BE",
                   sex="Other", birth_date=dt.date(1990, 2, 3), pay_group="Workers",
                   terminal_group=Ref(2), external_references={"@badge-number": "1"}),
        ),
        (
            Terminal.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 3,
             "name": {"default": "Gate", "translations": {"nl": "Poort"}},
             "externalCode": "G", "isEnabled": True},
            Terminal("0000000000000000000A", 3, LocalizedText("Gate", {"nl": "Poort"}), "G",
                     True),
        ),
        (
            AbsenceDefinition.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 4,
             "name": {"default": "Sick", "translations": {"fr": "Maladie"}}, "code": "SI",
             "friendlyName": {"default": "Sick", "translations": {}},
             "friendlyCode": {"default": "ZK", "translations": {}},
             "allowedDurations": ["FullDay", "Interval"], "isEnabled": True,
             "isReasonForClocking": False, "absenceGroup": {"id": 1}},
            AbsenceDefinition("0000000000000000000A", 4, LocalizedText("Sick", {"fr": "Maladie"}),
                              "SI", LocalizedText("Sick"), LocalizedText("ZK"),
                              ("FullDay", "Interval"), True, False, Ref(1)),
        ),
        (
            CounterDefinition.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 5,
             "name": {"default": "Overtime", "translations": {}}, "code": "OT",
             "isEnabled": False, "counterGroup": {"id": 3}, "unit": "Duration"},
            CounterDefinition("0000000000000000000A", 5, LocalizedText("Overtime"), "OT",
                              is_enabled=False, counter_group=Ref(3), unit="Duration"),
        ),
        (
            ShiftDefinition.from_wire,
            {"changeVersion": "0000000000000000000A", "id": 2,
             "name": {"default": "Day", "translations": {}}, "code": "DAY",
             "friendlyName": {"default": "Day 08:00-17:00", "translations": {}},
             "isEnabled": True, "startTimeInMinutes": 480, "endTimeInMinutes": 1020,
             "breakInMinutes": 30},
            ShiftDefinition("0000000000000000000A", 2, LocalizedText("Day"), "DAY",
                            LocalizedText("Day 08:00-17:00"), True, 480, 1020, 30),
        ),
    ],
)  # fmt: skip
def test_reference_collections(parse: Any, wire: dict[str, Any], expected: object) -> None:
    record = parse(wire)
    assert record == expected
    assert record.raw is wire


def test_reference_records_need_only_an_id() -> None:
    assert Person.from_wire({"id": 7}) == Person(None, 7)
    assert Terminal.from_wire({"id": 7}).name is None


@pytest.mark.parametrize("missing", ["changeVersion", "id", "person", "date", "kind"])
def test_a_clocking_without_a_required_field_is_an_invalid_response(missing: str) -> None:
    wire = {k: v for k, v in TUTORIAL.items() if k != missing}
    with pytest.raises(InvalidResponse, match=missing):
        parse_record(wire, Clocking.from_wire)


def test_a_malformed_date_is_an_invalid_response() -> None:
    with pytest.raises(InvalidResponse):
        parse_record({**TUTORIAL, "date": "15/01/2026"}, Clocking.from_wire)
    with pytest.raises(InvalidResponse):
        parse_record(["not", "a", "record"], Clocking.from_wire)


def test_an_activity_definition_in_the_vendors_shape() -> None:
    """Contract, "Fidelity": id, structureVersion, level, changeVersion, name.default,
    name.translations, parent.id, shortCode, dataEntryCode, externalReference, info,
    activeFrom, activeUntil; the ids are GUIDs."""
    version = "0b2c4d6e-8f10-5a12-9c14-1e16a18b20c2"
    wire = {
        "id": TASK, "structureVersion": version, "level": 2,
        "changeVersion": "0000000000000000000A",
        "name": {"default": "Design", "translations": {"nl": "Ontwerp", "fr": "Conception"}},
        "parent": {"id": PROJECT}, "shortCode": "DS", "dataEntryCode": "P1-DS",
        "externalReference": "X-11", "info": "UX work", "activeFrom": "2020-01-01",
        "activeUntil": "2026-12-31",
    }  # fmt: skip
    record = ActivityDefinition.from_wire(wire)
    assert record == ActivityDefinition(
        "0000000000000000000A", TASK, version, 2,
        LocalizedText("Design", {"nl": "Ontwerp", "fr": "Conception"}), Ref(PROJECT), "DS",
        "P1-DS", "X-11", "UX work", dt.date(2020, 1, 1), dt.date(2026, 12, 31),
    )  # fmt: skip
    assert record.raw is wire
    top = ActivityDefinition.from_wire(
        {"id": PROJECT, "structureVersion": version, "level": 1, "name": {"default": "P1"}}
    )
    assert (top.name, top.parent, top.active_until) == (LocalizedText("P1"), None, None)
