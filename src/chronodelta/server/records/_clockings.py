"""The clocking rules: the stored row, the checks a write must pass, ETags, and the
API body turned into a draft (records named by external reference resolved).

Contract, "Collections and fields": kind-specific fields (reason and isOpen only on
Reason, activity levels only on Activity); every record a clocking points at must
exist in the tenant; PUT with a stale If-Match gives 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import (
    ActivityLevel,
    ClockingDraft,
    ClockingKind,
    reference_name_problem,
)
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ActivityDefinitionRef, ClockingBody, RecordRef
from chronodelta.server.records._reference_facts import ReferenceFacts, reference_facts
from chronodelta.server.records._serialize import dump_activity_levels
from chronodelta.server.references._store import ReferenceLookup, resolve_lookups

AnyRef = RecordRef | ActivityDefinitionRef


def draft_from_body(connection: sa.Connection, tenant_id: int, body: ClockingBody) -> ClockingDraft:
    """The body as a draft, with records named by external reference resolved to ids."""
    fields: dict[str, tuple[str, AnyRef | None]] = {
        "person": ("people", body.person),
        "terminal": ("terminals", body.terminal),
        "reason": ("absence-definitions", body.reason),
    }
    for index, lv in enumerate(body.activityLevels or ()):
        fields[f"activityLevels[{index}].activityDefinition"] = (
            "activity-definitions",
            lv.activityDefinition,
        )
    ids = _resolve(connection, tenant_id, fields)
    return ClockingDraft(
        person_id=ids["person"],
        date=body.date,
        time_of_day=body.timeOfDayInMinutes,
        kind=body.kind,
        terminal_id=ids.get("terminal"),
        longitude=body.geolocation.longitude if body.geolocation else None,
        latitude=body.geolocation.latitude if body.geolocation else None,
        reason_id=ids.get("reason"),
        is_open=body.isOpen,
        activity_levels=tuple(
            ActivityLevel(lv.level, ids[f"activityLevels[{index}].activityDefinition"])
            for index, lv in enumerate(body.activityLevels or ())
        ),
    )


def _resolve(
    connection: sa.Connection, tenant_id: int, fields: dict[str, tuple[str, AnyRef | None]]
) -> dict[str, Any]:
    """The ids of the records the fields name: integers, GUIDs for activity definitions."""
    ids: dict[str, Any] = {}
    lookups, problems = [], []
    for field, (collection, ref) in fields.items():
        if ref is None:
            continue
        if ref.id is not None:
            ids[field] = ref.id
            continue
        assert ref.externalReferences is not None  # the model requires one or the other
        ((name, value),) = ref.externalReferences.items()
        problem = reference_name_problem(collection, name)
        if problem:
            problems.append(f"{field}.externalReferences: {problem}")
        else:
            lookups.append(ReferenceLookup(field, collection, name, value))
    if problems:
        raise BadRequest(reasons=problems)
    return ids | resolve_lookups(connection, tenant_id, lookups)


def etag(change_version: int) -> str:
    return f'"{change_version:020X}"'


def etag_matches(header: str, change_version: int) -> bool:
    """Whether an If-Match / If-None-Match header names this version (or is ``*``)."""
    current = etag(change_version)
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate in ("*", current):
            return True
    return False


def clocking_values(
    draft: ClockingDraft, tenant_id: int, clocking_id: int, change_version: int
) -> dict[str, Any]:
    """The row of a clocking; ``calculated_time_of_day`` is the (corrected) time."""
    return {
        "tenant_id": tenant_id,
        "id": clocking_id,
        "change_version": change_version,
        "person_id": draft.person_id,
        "date": draft.date,
        "time_of_day": draft.time_of_day,
        "original_time_of_day": draft.original_time_of_day,
        "calculated_time_of_day": draft.time_of_day,
        "is_generated": draft.is_generated,
        "terminal_id": draft.terminal_id,
        "longitude": draft.longitude,
        "latitude": draft.latitude,
        "kind": draft.kind.value,
        "reason_id": draft.reason_id,
        "is_open": draft.is_open,
        "activity_levels": dump_activity_levels(draft.activity_levels),
        "status": draft.status.value,
    }


def check_clocking_references(
    connection: sa.Connection, tenant_id: int, draft: ClockingDraft
) -> ReferenceFacts:
    """400 unless the kind's fields fit and every record pointed at exists in the tenant.

    Returns the tenant's reference facts it checked against (the write's recalculation
    uses them too): one query while they are unchanged (``_reference_facts.py``)."""
    facts = reference_facts(connection, tenant_id)
    reasons = clocking_reference_problems(facts, draft)
    if reasons:
        raise BadRequest(reasons=reasons)
    return facts


def clocking_reference_problems(facts: ReferenceFacts, draft: ClockingDraft) -> list[str]:
    """Why ``draft`` does not fit its kind or the facts (none: it does); the 400's
    reasons, in the order the API gives them."""
    reasons = validate_kind_fields(draft)
    for label, known, record_id in (
        ("person", facts.shifts, draft.person_id),
        ("terminal", facts.terminals, draft.terminal_id),
        ("reason", facts.absences, draft.reason_id),
    ):
        if record_id is not None and record_id not in known:
            reasons.append(f"{label}.id: {record_id} does not exist")
    reasons += _reason_problems(facts, draft.reason_id)
    reasons += _activity_level_problems(facts, draft)
    return reasons


def _reason_problems(facts: ReferenceFacts, reason_id: int | None) -> list[str]:
    """The vendor's absence definitions: "isReasonForClocking: Indicates if this absence
    can be used as a reason for clockings"; a disabled one cannot be used either."""
    row = None if reason_id is None else facts.absences.get(reason_id)
    if row is None:  # none, or reported as missing above
        return []
    if not row.is_enabled:
        return [f"reason.id: absence definition {reason_id} is not enabled"]
    if not row.is_reason_for_clocking:
        return [f"reason.id: absence definition {reason_id} is not a reason for clocking"]
    return []


def _activity_level_problems(facts: ReferenceFacts, draft: ClockingDraft) -> list[str]:
    """Levels must be 1..n, each definition of its level, each a child of the one above
    (so all of one structure version), each active on the clocking's date."""
    levels = draft.activity_levels
    if not levels:
        return []
    if [lv.level for lv in levels] != list(range(1, len(levels) + 1)):
        return ["activityLevels: levels must be 1, 2, ... in order, each once"]
    problems = []
    for index, lv in enumerate(levels):
        row = facts.activities.get(lv.activity_definition_id)
        where = f"activityLevels[{index}].activityDefinition.id"
        if row is None:
            problems.append(f"{where}: {lv.activity_definition_id} does not exist")
        elif row.level != lv.level:
            problems.append(
                f"{where}: definition {row.guid} is of level {row.level}, not {lv.level}"
            )
        elif index > 0 and row.parent_guid != levels[index - 1].activity_definition_id:
            problems.append(f"{where}: definition {row.guid} is not under the level above")
        elif not _active_on(row, draft.date):
            problems.append(f"{where}: definition {row.guid} is not active on {draft.date}")
    return problems


def _active_on(row: Any, date: dt.date) -> bool:
    """The vendor's activeFrom/activeUntil: "Controls when the definition becomes
    available for registrations" (and when it no longer is); both dates included."""
    return (row.active_from is None or row.active_from <= date) and (
        row.active_until is None or date <= row.active_until
    )


def validate_kind_fields(draft: ClockingDraft) -> list[str]:
    """Kind-specific fields (contract): reason and isOpen only on Reason, levels on Activity."""
    problems = []
    if draft.kind == ClockingKind.REASON and draft.reason_id is None:
        problems.append("reason: required when kind is Reason")
    if draft.kind != ClockingKind.REASON and draft.reason_id is not None:
        problems.append("reason: only allowed when kind is Reason")
    if draft.kind != ClockingKind.REASON and draft.is_open is not None:
        problems.append("isOpen: only allowed when kind is Reason")
    if draft.kind == ClockingKind.ACTIVITY and not draft.activity_levels:
        problems.append("activityLevels: required (at least one level) when kind is Activity")
    if draft.kind != ClockingKind.ACTIVITY and draft.activity_levels:
        problems.append("activityLevels: only allowed when kind is Activity")
    return problems
