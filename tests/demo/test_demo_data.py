"""Tests of the demo-data generator: determinism, stability, integrity, realism, laziness."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodelta.demo import (
    MOBILE_TERMINAL_CODE,
    generate_clockings,
    generate_organisation,
    generate_reference_data,
)
from chronodelta.domain import is_guid
from chronodelta.domain._records import (
    ACTIVITY_CODE_MAX,
    MAX_TIME_OF_DAY,
    MIN_TIME_OF_DAY,
    ClockingDraft,
    ClockingKind,
    ClockingStatus,
    Person,
    ReferenceData,
)

TODAY = dt.date(2026, 1, 15)
PersonDay = tuple[int, dt.date]


@functools.cache
def _reference(people: int, seed: int = 7) -> ReferenceData:
    return generate_reference_data(people=people, seed=seed, today=TODAY)


@functools.cache
def _clockings(
    people: int,
    days: int,
    seed: int = 7,
    until: dt.date = TODAY,
) -> tuple[ClockingDraft, ...]:
    return tuple(generate_clockings(_reference(people, seed), days=days, until=until, seed=seed))


def _sample() -> tuple[ReferenceData, tuple[ClockingDraft, ...]]:
    """The larger sample the realism and integrity tests share: 50 people x 60 days."""
    return _reference(50), _clockings(50, 60)


def _by_person_day(clockings: Iterable[ClockingDraft]) -> dict[PersonDay, list[ClockingDraft]]:
    result: dict[PersonDay, list[ClockingDraft]] = defaultdict(list)
    for clocking in clockings:
        result[(clocking.person_id, clocking.date)].append(clocking)
    return result


def _shift_code(reference: ReferenceData, person: Person) -> str:
    shifts = {s.id: s.shift_code for s in reference.shift_definitions}
    return shifts[person.shift_definition_id or 0]


def _in_service(person: Person, day: dt.date) -> bool:
    out = person.out_of_service_date
    return person.in_service_date <= day and (out is None or day <= out)


def _presence_parity_odd(clockings: Sequence[ClockingDraft]) -> bool:
    """A Reason clocking is a coded leave: with the InOuts, a complete day pairs up."""
    return sum(c.kind in (ClockingKind.IN_OUT, ClockingKind.REASON) for c in clockings) % 2 == 1


# --- The invariants every generation must satisfy -----------------------------------


def _assert_order_and_window(
    clockings: Sequence[ClockingDraft],
    days: int,
    until: dt.date,
) -> None:
    first = until - dt.timedelta(days=days - 1)
    keys = [(c.date, c.person_id, c.time_of_day) for c in clockings]
    assert keys == sorted(keys), "day order, then person order, then time order"
    assert all(first <= c.date <= until for c in clockings)


def _assert_references(reference: ReferenceData, clocking: ClockingDraft) -> None:
    people = {p.id: p for p in reference.people}
    terminals = {t.id: t for t in reference.terminals}
    activities = {a.id: a for a in reference.activity_definitions}
    assert clocking.person_id in people
    assert _in_service(people[clocking.person_id], clocking.date)
    if clocking.is_generated:
        assert clocking.terminal_id is None
    else:
        assert clocking.terminal_id in terminals
    if clocking.kind is ClockingKind.REASON:
        assert clocking.reason_id in {a.id for a in reference.absence_definitions}
    if clocking.kind is ClockingKind.ACTIVITY:
        (one, two) = clocking.activity_levels
        assert (one.level, two.level) == (1, 2)
        project = activities[one.activity_definition_id]
        task = activities[two.activity_definition_id]
        assert (project.level, project.parent_id) == (1, None)
        assert (task.level, task.parent_id) == (2, project.id)


def _assert_kind_fields(clocking: ClockingDraft) -> None:
    is_reason = clocking.kind is ClockingKind.REASON
    assert (clocking.reason_id is not None) == is_reason
    assert (clocking.is_open is not None) == is_reason
    assert bool(clocking.activity_levels) == (clocking.kind is ClockingKind.ACTIVITY)
    assert clocking.status is ClockingStatus.ACTIVE
    assert MIN_TIME_OF_DAY <= clocking.time_of_day <= MAX_TIME_OF_DAY
    if clocking.original_time_of_day is not None:
        assert not clocking.is_generated
        assert clocking.original_time_of_day != clocking.time_of_day


def _assert_geolocation(reference: ReferenceData, clocking: ClockingDraft) -> None:
    mobile = {t.id for t in reference.terminals if t.external_code == MOBILE_TERMINAL_CODE}
    if clocking.terminal_id in mobile:
        assert clocking.longitude is not None
        assert clocking.latitude is not None
        assert 2.5 <= clocking.longitude <= 6.5, "in or near Belgium"
        assert 49.4 <= clocking.latitude <= 51.6, "in or near Belgium"
        assert round(clocking.longitude, 6) == clocking.longitude
        assert round(clocking.latitude, 6) == clocking.latitude
    else:
        assert (clocking.longitude, clocking.latitude) == (None, None)


def _assert_person_days(
    reference: ReferenceData,
    by_day: dict[PersonDay, list[ClockingDraft]],
) -> None:
    people = {p.id: p for p in reference.people}
    for (person_id, day), day_clockings in by_day.items():
        shift = _shift_code(reference, people[person_id])
        assert day.weekday() != 6, "nobody works on Sunday"
        if day.weekday() == 5:
            assert shift in ("LATE", "NIGHT"), "only Late and Night people work Saturdays"
        if shift != "NIGHT":
            assert all(c.time_of_day < 1440 for c in day_clockings)
        last = day_clockings[-1]
        completed = not _presence_parity_odd(day_clockings)
        no_reason = all(c.kind is not ClockingKind.REASON for c in day_clockings)
        if shift == "NIGHT" and completed and no_reason and last.kind is ClockingKind.IN_OUT:
            assert last.time_of_day > 1440, "a night shift's out stays on its start date"


def _assert_invariants(
    reference: ReferenceData,
    clockings: Sequence[ClockingDraft],
    days: int,
    until: dt.date,
) -> None:
    _assert_order_and_window(clockings, days, until)
    for clocking in clockings:
        _assert_references(reference, clocking)
        _assert_kind_fields(clocking)
        _assert_geolocation(reference, clocking)
    _assert_person_days(reference, _by_person_day(clockings))


# --- Determinism and sub-seed stability ---------------------------------------------


def test_same_arguments_give_identical_output() -> None:
    again = generate_reference_data(people=20, seed=7, today=TODAY)
    assert again == _reference(20)
    assert list(generate_clockings(again, days=30, until=TODAY, seed=7)) == list(_clockings(20, 30))


def test_different_seed_gives_different_output() -> None:
    assert _reference(20, seed=8).people != _reference(20, seed=7).people
    assert _clockings(20, 30, seed=8) != _clockings(20, 30, seed=7)
    other_clockings = tuple(generate_clockings(_reference(20), days=30, until=TODAY, seed=8))
    assert other_clockings != _clockings(20, 30)


def test_more_days_leave_the_later_days_unchanged() -> None:
    cutoff = TODAY - dt.timedelta(days=9)
    ten = _clockings(20, 10)
    twenty = _clockings(20, 20)
    assert ten
    assert [c for c in twenty if c.date >= cutoff] == list(ten)
    assert any(c.date < cutoff for c in twenty)


def test_more_people_leave_existing_people_unchanged() -> None:
    assert _reference(30).people[:20] == _reference(20).people
    existing = [c for c in _clockings(30, 20) if c.person_id <= 20]
    assert existing == list(_clockings(20, 20))


# --- Reference data -----------------------------------------------------------------


def test_ids_are_consecutive_from_one() -> None:
    """Every id but an activity definition's (a GUID, see below)."""
    reference = _reference(50)
    for collection in (
        reference.people,
        reference.terminals,
        reference.absence_definitions,
        reference.counter_definitions,
        reference.shift_definitions,
    ):
        assert [item.id for item in collection] == list(range(1, len(collection) + 1))
    assert len(reference.people) == 50
    assert 5 <= len(reference.terminals) <= 8


def test_badge_and_employee_numbers_are_unique() -> None:
    people = generate_reference_data(people=3000, seed=3, today=TODAY).people
    badges = [p.badge_number for p in people]
    employees = [p.employee_number for p in people]
    assert len(set(badges)) == len(badges)
    assert len(set(employees)) == len(employees)
    assert all(len(b) == 7 and b.isdigit() and b[0] != "0" for b in badges)
    assert people[0].employee_number == "E00001"


def test_person_one_is_an_active_day_shift_employee() -> None:
    for seed in range(5):
        reference = generate_reference_data(people=5, seed=seed, today=TODAY)
        person = reference.people[0]
        assert person.id == 1
        assert person.out_of_service_date is None
        assert _in_service(person, dt.date(2026, 1, 15))
        assert person.in_service_date <= dt.date(2020, 1, 6)
        assert _shift_code(reference, person) == "DAY"


def test_people_include_leavers_recent_and_future_hires_and_varied_shifts() -> None:
    people = _reference(200).people
    assert any(p.out_of_service_date is not None and p.out_of_service_date < TODAY for p in people)
    assert any(TODAY - dt.timedelta(days=90) <= p.in_service_date <= TODAY for p in people)
    assert any(p.in_service_date > TODAY for p in people)
    for person in people:
        if person.out_of_service_date is not None:
            assert person.in_service_date <= person.out_of_service_date
    codes = [_shift_code(_reference(200), p) for p in people]
    assert codes.count("DAY") > len(codes) // 3
    assert {"EARLY", "LATE", "NIGHT", "PTAM"} <= set(codes)
    assert len({p.last_name for p in people}) > 40


def test_definitions_have_codes_and_a_two_level_activity_structure() -> None:
    reference = _reference(1)
    shifts = {s.shift_code: s for s in reference.shift_definitions}
    assert (shifts["NIGHT"].start_minutes, shifts["NIGHT"].end_minutes) == (1320, 1800)
    assert (shifts["DAY"].start_minutes, shifts["DAY"].end_minutes) == (480, 990)
    assert {"DOC", "TRN", "SICK"} <= {a.absence_code for a in reference.absence_definitions}
    assert len(reference.counter_definitions) >= 4
    activities = {a.id: a for a in reference.activity_definitions}
    assert any(a.level == 1 for a in activities.values())
    for activity in activities.values():
        if activity.level == 1:
            assert activity.parent_id is None
        else:
            assert activity.level == 2
            assert activity.parent_id is not None
            assert activities[activity.parent_id].level == 1
            parent_code = activities[activity.parent_id].data_entry_code
            assert (activity.data_entry_code or "").startswith(f"{parent_code}-")
            assert activity.structure_version == activities[activity.parent_id].structure_version
    codes = [(a.structure_version, a.data_entry_code) for a in activities.values()]
    assert len(set(codes)) == len(codes)


def test_activity_definitions_in_the_vendors_shape() -> None:
    """Contract, "Fidelity": GUID ids and structure versions, dataEntryCode and
    externalReference of at most 16 characters, the external reference unique within
    structure version and level, names with translations; seed 003: the id a string."""
    definitions = _reference(1, 7).activity_definitions
    assert all(is_guid(a.id) and a.id == a.id.lower() for a in definitions)
    assert len({a.id for a in definitions}) == len(definitions)
    versions = {a.structure_version for a in definitions}
    assert len(versions) == 2 and all(is_guid(v) for v in versions)
    for a in definitions:
        assert a.data_entry_code is not None and len(a.data_entry_code) <= ACTIVITY_CODE_MAX
        assert a.external_reference is not None and len(a.external_reference) <= ACTIVITY_CODE_MAX
        assert set(a.name_translations) == {"nl", "fr"} and a.short_code
    in_level = [(a.structure_version, a.level, a.external_reference) for a in definitions]
    assert len(set(in_level)) == len(in_level)
    # The same seed gives the same GUIDs; another seed others.
    again = generate_reference_data(people=1, seed=7, today=TODAY).activity_definitions
    assert [a.id for a in again] == [a.id for a in definitions]
    other = generate_reference_data(people=1, seed=99, today=TODAY).activity_definitions
    assert not {a.id for a in other} & {a.id for a in definitions}


def test_clockings_book_only_definitions_active_on_their_date() -> None:
    """The vendor's activeFrom/activeUntil control when a definition can be booked:
    the previous structure version (2018-2019) is never used."""
    reference = _reference(40)
    definitions = {a.id: a for a in reference.activity_definitions}
    booked = [
        (definitions[level.activity_definition_id], clocking.date)
        for clocking in generate_clockings(reference, days=60, until=TODAY, seed=1)
        for level in clocking.activity_levels
    ]
    assert booked
    for definition, date in booked:
        assert definition.active_from is not None and definition.active_from <= date
        assert definition.active_until is None


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="people"):
        generate_reference_data(people=-1, seed=1, today=TODAY)
    with pytest.raises(ValueError, match="days"):
        generate_clockings(_reference(1), days=-1, until=TODAY, seed=1)
    assert list(generate_clockings(_reference(0), days=10, until=TODAY, seed=1)) == []
    assert list(generate_clockings(_reference(5), days=0, until=TODAY, seed=1)) == []


# --- Clockings ----------------------------------------------------------------------


def test_sample_satisfies_every_invariant() -> None:
    reference, clockings = _sample()
    _assert_invariants(reference, clockings, 60, TODAY)


def test_night_outs_pass_midnight_on_the_start_date() -> None:
    reference, clockings = _sample()
    night = {p.id for p in reference.people if _shift_code(reference, p) == "NIGHT"}
    assert night
    outs = [
        v[-1]
        for (pid, _), v in _by_person_day(clockings).items()
        if pid in night and not _presence_parity_odd(v) and v[-1].kind is ClockingKind.IN_OUT
    ]
    assert outs
    assert all(1760 <= c.time_of_day <= 1850 for c in outs), "out near 06:00 the next day"
    assert all(c.time_of_day >= 1300 for c in clockings if c.person_id in night)


def test_weekends_are_mostly_empty() -> None:
    reference, clockings = _sample()
    worked = {(c.person_id, c.date) for c in clockings}
    weekend_days = [d for d in {c.date for c in clockings} if d.weekday() >= 5]
    saturdays = [TODAY - dt.timedelta(days=n) for n in range(60)]
    saturdays = [d for d in saturdays if d.weekday() == 5]
    eligible = [
        (p.id, d)
        for p in reference.people
        for d in saturdays
        if _in_service(p, d) and _shift_code(reference, p) in ("LATE", "NIGHT")
    ]
    worked_saturdays = sum(key in worked for key in eligible)
    assert worked_saturdays <= 0.15 * len(eligible)
    assert all(d.weekday() == 5 for d in weekend_days)


def test_no_clockings_outside_the_service_period() -> None:
    reference = _reference(200)
    clockings = _clockings(200, 120)
    people = {p.id: p for p in reference.people}
    leavers = {
        p.id
        for p in people.values()
        if p.out_of_service_date is not None
        and p.out_of_service_date >= TODAY - dt.timedelta(days=119)
    }
    hires = {p.id for p in people.values() if p.in_service_date > TODAY - dt.timedelta(days=119)}
    assert leavers, "the sample must exercise the end of a service period"
    assert hires, "the sample must exercise the start of a service period"
    assert all(_in_service(people[c.person_id], c.date) for c in clockings)
    assert {c.person_id for c in clockings} & leavers
    assert {c.person_id for c in clockings} & hires


def test_anomaly_and_feature_shares_land_in_sensible_bands() -> None:
    _, clockings = _sample()
    by_day = _by_person_day(clockings)
    count = len(clockings)
    worked = len(by_day)
    assert 3.0 <= count / worked <= 5.0
    assert 0.01 <= sum(c.original_time_of_day is not None for c in clockings) / count <= 0.06
    assert 0.003 <= sum(c.is_generated for c in clockings) / count <= 0.025
    assert 0.005 <= sum(_presence_parity_odd(v) for v in by_day.values()) / worked <= 0.05
    reason_days = sum(any(c.kind is ClockingKind.REASON for c in v) for v in by_day.values())
    assert 0.02 <= reason_days / worked <= 0.10
    reasons = [c for c in clockings if c.kind is ClockingKind.REASON]
    assert {True, False} == {c.is_open for c in reasons}
    assert any(c.longitude is not None for c in clockings)


def test_absent_weekdays_are_a_small_share() -> None:
    reference, clockings = _sample()
    worked = {(c.person_id, c.date) for c in clockings}
    weekdays = [TODAY - dt.timedelta(days=n) for n in range(60)]
    scheduled = [
        (p.id, d)
        for p in reference.people
        for d in weekdays
        if d.weekday() < 5 and _in_service(p, d)
    ]
    absent = sum(key not in worked for key in scheduled)
    assert 0.01 <= absent / len(scheduled) <= 0.08


def test_project_workers_book_activities() -> None:
    reference, clockings = _sample()
    by_day = _by_person_day(clockings)
    workers = {c.person_id for c in clockings if c.kind is ClockingKind.ACTIVITY_END}
    assert 0.05 <= len(workers) / len(reference.people) <= 0.35
    project_days = [v for (pid, _), v in by_day.items() if pid in workers]
    kinds = [[c.kind for c in v] for v in project_days]
    assert all(ClockingKind.ACTIVITY_END in k for k in kinds)
    end_only = sum(ClockingKind.ACTIVITY not in k for k in kinds)
    assert 0 < end_only <= 0.08 * len(kinds)
    assert any(k.count(ClockingKind.ACTIVITY) == 2 for k in kinds), "some switch mid-day"
    for day in project_days:
        starts = [c for c in day if c.kind is ClockingKind.ACTIVITY]
        if starts and all(c.original_time_of_day is None for c in day):
            assert day[0].kind is ClockingKind.IN_OUT, "the in comes before the activity"
    non_workers = {p.id for p in reference.people} - workers
    assert not any(c.kind is ClockingKind.ACTIVITY for c in clockings if c.person_id in non_workers)


def test_generator_copes_with_sparse_reference_data() -> None:
    sparse = ReferenceData(
        people=_reference(10).people,
        terminals=(),
        activity_definitions=(),
        absence_definitions=(),
        counter_definitions=(),
        shift_definitions=(),
    )
    clockings = list(generate_clockings(sparse, days=20, until=TODAY, seed=1))
    assert clockings
    assert all(c.kind is ClockingKind.IN_OUT and c.terminal_id is None for c in clockings)


def test_generation_is_lazy() -> None:
    reference = generate_reference_data(people=100, seed=1, today=TODAY)
    clockings = generate_clockings(reference, days=3650, until=TODAY, seed=1)
    assert iter(clockings) is clockings
    first = list(itertools.islice(clockings, 10))
    assert len(first) == 10
    assert first[0].date >= TODAY - dt.timedelta(days=3649)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(min_value=1, max_value=30),
    days=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32),
    until_offset=st.integers(min_value=-400, max_value=0),
)
def test_invariants_hold_for_any_arguments(
    people: int,
    days: int,
    seed: int,
    until_offset: int,
) -> None:
    reference = generate_reference_data(people=people, seed=seed, today=TODAY)
    until = TODAY + dt.timedelta(days=until_offset)
    clockings = list(generate_clockings(reference, days=days, until=until, seed=seed))
    _assert_invariants(reference, clockings, days, until)
    assert clockings == list(generate_clockings(reference, days=days, until=until, seed=seed))
    ids = [p.id for p in reference.people]
    assert ids == list(range(1, people + 1))
    assert len({p.badge_number for p in reference.people}) == people


# --- The organisation: org tree and circles (issue 11, item 5) ----------------------


def test_the_organisation_is_a_tree_with_everyone_in_one_group_and_is_reproducible() -> None:
    people = _reference(60).people
    organisation = generate_organisation(people, seed=7)
    assert organisation == generate_organisation(people, seed=7)
    parents = {g.id: g.parent_id for g in organisation.org_groups}
    assert [g for g, p in parents.items() if p is None] == [1]  # one root
    assert all(p is None or p < g for g, p in parents.items())  # parents first: no cycle
    placed = dict(organisation.org_group_members)
    assert sorted(placed) == [p.id for p in people] and set(placed.values()) <= set(parents)
    assert placed[1] == 9 and placed[2] == 2 and placed[3] == 3  # IT; two supervisors
    leaves = set(parents) - {p for p in parents.values() if p is not None}
    assert sum(g in leaves for g in placed.values()) > len(people) * 0.7
    circles = {c.name: c.member_ids for c in organisation.circles}
    assert list(circles) == [
        "First aiders",
        "Works council",
        "Fire wardens",
        "Flexible hours pilot",
    ]
    assert all(
        0 < len(m) < len(people) / 2
        for name, m in circles.items()
        if name != "Flexible hours pilot"
    )
    assert 1 in circles["Flexible hours pilot"]
    assert all(list(m) == sorted(set(m)) and set(m) <= set(placed) for m in circles.values())


def test_more_people_leave_everyone_s_groups_as_they_were() -> None:
    small = generate_organisation(_reference(10).people, seed=7)
    large = generate_organisation(_reference(40).people, seed=7)
    assert set(small.org_group_members) <= set(large.org_group_members)
    for few, many in zip(small.circles, large.circles, strict=True):
        assert set(few.member_ids) == {p for p in many.member_ids if p <= 10}
    other_seed = generate_organisation(_reference(40).people, seed=8)
    assert other_seed.org_group_members != large.org_group_members
