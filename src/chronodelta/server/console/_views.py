"""What the console's pages show, read in one transaction each, and its forms parsed.

No HTTP here: routes call one of these and render the result. Writes are not here:
the pages call the library functions the CLI and the API call (``admin``,
``records.ConnectorBackend``, ``webhooks.WebhookBackend``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from chronodelta.domain import ClockingKind, FilterCriteria
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ClockingBody
from chronodelta.server.admin._clients import ClientInfo, list_clients
from chronodelta.server.admin._tenants import TenantInfo, list_tenants
from chronodelta.server.records._serialize import Wire
from chronodelta.server.records._tracked import TRACKED, read_page
from chronodelta.storage import read_transaction, tables

# More than a day of clockings or totals of one person is not a real day.
DAY_LIMIT = 500
PEOPLE_LIMIT = 2000
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
TOTALS = ("paid-presences", "activity-durations", "calculated-totals")


@dataclass(frozen=True)
class TenantSummary:
    tenant: TenantInfo
    clients: list[ClientInfo]

    @property
    def active_clients(self) -> int:
        return sum(1 for c in self.clients if c.revoked_at is None)


def tenant_summaries(engine: Engine) -> list[TenantSummary]:
    by_tenant: dict[str, list[ClientInfo]] = defaultdict(list)
    for client in list_clients(engine):
        by_tenant[client.tenant].append(client)
    return [TenantSummary(t, by_tenant[t.name]) for t in list_tenants(engine)]


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class DayChoices:
    """What the clocking form offers: people, terminals, reasons, activity paths."""

    people: list[Choice]
    terminals: list[Choice]
    reasons: list[Choice]
    activities: list[Choice]  # value: the GUIDs from level 1 down, comma-separated


@dataclass(frozen=True)
class PersonDay:
    """One person's day: its clockings and the totals calculated from them, one snapshot."""

    person_id: int
    date: dt.date
    clockings: list[Wire]
    totals: dict[str, list[Wire]] = field(default_factory=dict)


def person_day(engine: Engine, tenant_id: int, person_id: int, date: dt.date) -> PersonDay:
    criteria = FilterCriteria(date, date, (("person", frozenset({person_id})),))
    with read_transaction(engine, snapshot=True) as connection:
        pages = {
            name: read_page(connection, TRACKED[name], tenant_id, criteria, None, DAY_LIMIT)
            for name in ("clockings", *TOTALS)
        }
    clockings = sorted(pages["clockings"].records, key=lambda c: (c["timeOfDayInMinutes"], c["id"]))
    return PersonDay(person_id, date, clockings, {name: pages[name].records for name in TOTALS})


def day_choices(engine: Engine, tenant_id: int) -> DayChoices:
    people, terminals, absences = tables.people, tables.terminals, tables.absence_definitions
    with read_transaction(engine, snapshot=True) as connection:
        persons = connection.execute(
            sa.select(people.c.id, people.c.first_name, people.c.last_name)
            .where(people.c.tenant_id == tenant_id)
            .order_by(people.c.id)
            .limit(PEOPLE_LIMIT)
        ).all()
        devices = connection.execute(
            sa.select(terminals.c.id, terminals.c.name)
            .where(terminals.c.tenant_id == tenant_id)
            .order_by(terminals.c.id)
        ).all()
        reasons = connection.execute(
            sa.select(absences.c.id, absences.c.name)
            .where(
                absences.c.tenant_id == tenant_id,
                absences.c.is_reason_for_clocking,
                absences.c.is_enabled,
            )
            .order_by(absences.c.id)
        ).all()
        definitions = _activity_definitions(connection, tenant_id)
    return DayChoices(
        [Choice(str(p.id), f"{p.id}: {p.first_name} {p.last_name}") for p in persons],
        [Choice(str(t.id), f"{t.id}: {t.name}") for t in devices],
        [Choice(str(r.id), f"{r.id}: {r.name}") for r in reasons],
        _activity_paths(definitions),
    )


def _activity_definitions(connection: sa.Connection, tenant_id: int) -> list[Any]:
    table = tables.activity_definitions
    return list(
        connection.execute(
            sa.select(table.c.guid, table.c.parent_guid, table.c.name, table.c.level)
            .where(table.c.tenant_id == tenant_id)
            .order_by(table.c.level, table.c.name)
        )
    )


def _activity_paths(definitions: list[Any]) -> list[Choice]:
    """Each definition with the chain of parents above it: a clocking's activity levels
    name level 1 down to the chosen one, each a child of the one above (the contract)."""
    by_guid = {d.guid: d for d in definitions}
    choices = []
    for definition in definitions:
        chain: list[Any] = []
        current = definition
        while current is not None and len(chain) <= 10:
            chain.append(current)
            current = by_guid.get(current.parent_guid) if current.parent_guid else None
        chain.reverse()
        choices.append(Choice(",".join(d.guid for d in chain), " / ".join(d.name for d in chain)))
    return sorted(choices, key=lambda c: c.label)


@dataclass(frozen=True)
class ClockingForm:
    """A clocking as the console's form sends it: every field text, as typed."""

    date: str
    time: str  # HH:MM
    kind: str
    terminal: str = ""
    reason: str = ""
    is_open: str = ""
    activity: str = ""  # the GUIDs of levels 1..n, comma-separated

    @classmethod
    def of(cls, clocking: Wire) -> ClockingForm:
        """The form filled in with a stored clocking (the edit page)."""
        levels = clocking.get("activityLevels") or []
        minutes = int(clocking["timeOfDayInMinutes"])
        return cls(
            date=str(clocking["date"]),
            time=f"{minutes // 60:02d}:{minutes % 60:02d}",
            kind=str(clocking["kind"]),
            terminal=str(clocking.get("terminal", {}).get("id", "")),
            reason=str(clocking.get("reason", {}).get("id", "")),
            is_open="on" if clocking.get("isOpen") else "",
            activity=",".join(str(lv["activityDefinition"]["id"]) for lv in levels),
        )


def clocking_body(person_id: int, form: ClockingForm) -> ClockingBody:
    """The API's write body for the form: the same model, so the same checks as a POST."""
    match = _TIME.fullmatch(form.time.strip())
    if match is None:
        raise BadRequest(reasons=["time: must be a time of day written HH:MM, 00:00 to 23:59"])
    body: dict[str, Any] = {
        "person": {"id": person_id},
        "date": form.date.strip(),
        "timeOfDayInMinutes": int(match.group(1)) * 60 + int(match.group(2)),
        "kind": form.kind,
    }
    if form.terminal.strip():
        body["terminal"] = {"id": _integer("terminal", form.terminal)}
    if form.kind == ClockingKind.REASON:
        if form.reason.strip():
            body["reason"] = {"id": _integer("reason", form.reason)}
        body["isOpen"] = form.is_open == "on"
    if form.kind == ClockingKind.ACTIVITY and form.activity.strip():
        body["activityLevels"] = [
            {"level": level, "activityDefinition": {"id": guid.strip()}}
            for level, guid in enumerate(form.activity.split(","), start=1)
        ]
    try:
        return ClockingBody.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(reasons=[_described(e) for e in exc.errors()]) from None


def _integer(name: str, text: str) -> int:
    if not text.strip().isdigit():
        raise BadRequest(reasons=[f"{name}: must be a record id (digits)"])
    return int(text.strip())


def _described(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "clocking"
    return f"{where}: {error.get('msg', 'is invalid')}"


def parse_day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(reasons=[f"date: {text!r} is not a date written YYYY-MM-DD"]) from None
