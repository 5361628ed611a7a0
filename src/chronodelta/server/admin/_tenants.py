"""Operator tasks behind the CLI: tenants, API clients and demo data."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chronodelta.demo import generate_clockings, generate_organisation, generate_reference_data
from chronodelta.domain import (
    KNOWN_SCOPES,
    SERVED_SCOPES,
    ActivityDefinition,
    ClockingDraft,
    Organisation,
    ReferenceData,
    Scope,
    format_scopes,
)
from chronodelta.server._clock import utc_now
from chronodelta.server.activities._wire import dump_translations
from chronodelta.server.auth._clients import hash_secret, new_client_credentials
from chronodelta.server.records._clockings import clocking_values
from chronodelta.server.snapshots._store import SEEDED, SeedParameters, capture
from chronodelta.server.totals._calculation import PersonDay, person_days_of, recalculate
from chronodelta.storage import (
    ensure_tenant_counters,
    plain_write_transaction,
    read_transaction,
    tables,
    write_transaction,
)

# A tenant name is a DNS label: it becomes the host "<tenant>.myprotime.eu".
TENANT_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
COUNTER_NAMES = ["clockings", *tables.REFERENCE_TABLES, *tables.TOTAL_TABLES]
SEED_BATCH = 5000


class AdminError(ValueError):
    """An operator request that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class TenantInfo:
    id: int
    name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewClient:
    tenant: str
    client_id: str
    client_secret: str
    scopes: tuple[Scope, ...]


def create_tenant(engine: Engine, name: str) -> TenantInfo:
    if not TENANT_NAME.fullmatch(name) or name.endswith("-"):
        raise AdminError(
            f"invalid tenant name {name!r}: use lower-case letters, digits and '-', "
            "starting with a letter (it becomes a host name)"
        )
    created = utc_now()
    try:
        with plain_write_transaction(engine) as connection:
            new_id = connection.scalar(
                tables.tenants.insert()
                .values(name=name, created_at=created)
                .returning(tables.tenants.c.id)
            )
            assert new_id is not None
            ensure_tenant_counters(connection, new_id, COUNTER_NAMES)
    except IntegrityError:
        raise AdminError(f"tenant {name!r} already exists") from None
    return TenantInfo(new_id, name, created)


def list_tenants(engine: Engine) -> list[TenantInfo]:
    with read_transaction(engine) as connection:
        rows = connection.execute(sa.select(tables.tenants).order_by(tables.tenants.c.name))
        return [TenantInfo(r.id, r.name, r.created_at) for r in rows]


def tenant_id(engine: Engine, name: str) -> int:
    with read_transaction(engine) as connection:
        found = connection.scalar(
            sa.select(tables.tenants.c.id).where(tables.tenants.c.name == name)
        )
    if found is None:
        raise AdminError(
            f"no tenant named {name!r} (create it with: chronodelta tenants create {name})"
        )
    return int(found)


def create_client(
    engine: Engine, tenant: str, scopes: Iterable[Scope] | None = None, description: str = ""
) -> NewClient:
    """Register an API client; the secret is returned once and only its hash is kept.

    ``scopes`` may name any known scope (contract, "Fidelity", "Scopes"); without
    them the client gets every scope this server serves.
    """
    granted = tuple(s for s in KNOWN_SCOPES if s in set(scopes or SERVED_SCOPES))
    owner = tenant_id(engine, tenant)
    client_id, secret = new_client_credentials()
    with plain_write_transaction(engine) as connection:
        connection.execute(
            tables.api_clients.insert().values(
                tenant_id=owner,
                client_id=client_id,
                secret_hash=hash_secret(secret),
                scopes=format_scopes(granted),
                description=description,
                created_at=utc_now(),
            )
        )
    return NewClient(tenant, client_id, secret, granted)


def count_clients(engine: Engine) -> int:
    with read_transaction(engine) as connection:
        return int(
            connection.scalar(sa.select(sa.func.count()).select_from(tables.api_clients)) or 0
        )


@dataclass(frozen=True)
class SeedResult:
    people: int
    clockings: int


def seed_tenant(
    engine: Engine, tenant: str, *, people: int, days: int, seed: int, until: dt.date
) -> SeedResult:
    """Fill an empty tenant with realistic, reproducible reference data and clockings.

    The state it leaves is kept as the tenant's ``seeded`` snapshot, with these
    parameters (``until`` included: it fixes the dates), which ``tenants reset``
    restores (issue 13, item 4).
    """
    owner = tenant_id(engine, tenant)
    with read_transaction(engine) as connection:
        existing = connection.scalar(
            sa.select(sa.func.count())
            .select_from(tables.people)
            .where(tables.people.c.tenant_id == owner)
        )
    if existing:
        raise AdminError(f"tenant {tenant!r} already has people; seed a new, empty tenant")
    reference = generate_reference_data(people=people, seed=seed, today=until)
    insert_reference_data(engine, owner, reference)
    insert_organisation(engine, owner, generate_organisation(reference.people, seed=seed))
    drafts = generate_clockings(reference, days=days, until=until, seed=seed)
    result = SeedResult(len(reference.people), insert_clockings(engine, owner, drafts))
    parameters = SeedParameters(people=people, days=days, seed=seed, until=until)
    capture(engine, owner, tenant, SEEDED, seed=parameters, replace=True)
    return result


def insert_reference_data(engine: Engine, owner: int, reference: ReferenceData) -> None:
    batches: list[tuple[str, list[Any]]] = [
        ("shift-definitions", list(reference.shift_definitions)),
        ("people", list(reference.people)),
        ("terminals", list(reference.terminals)),
        ("activity-definitions", list(reference.activity_definitions)),
        ("absence-definitions", list(reference.absence_definitions)),
        ("counter-definitions", list(reference.counter_definitions)),
    ]
    with write_transaction(engine, owner) as tx:
        for collection, records in batches:
            if not records:
                continue
            if collection == "activity-definitions":
                keys = tx.allocate_ids(collection, len(records))
                pairs = zip(records, keys, strict=True)
                rows = [activity_definition_row(r, owner, k) for r, k in pairs]
            else:
                rows = [_reference_row(r, owner) for r in records]
                tx.reserve_ids_through(collection, max(r.id for r in records))
            versioned = [_versioned(row, tx.next_change_version()) for row in rows]
            tx.connection.execute(tables.REFERENCE_TABLES[collection].insert(), versioned)


def insert_organisation(engine: Engine, owner: int, organisation: Organisation) -> None:
    """Store an org tree, its members and circles in tenant ``owner`` (an id), at once.

    Not API collections (no change versions): what ``person in org-group(...)``,
    ``org-tree(...)`` and ``circle(...)`` filters select (``admin/_organisation.py``).
    """
    groups = [
        {"tenant_id": owner, "id": g.id, "name": g.name, "parent_id": g.parent_id}
        for g in organisation.org_groups
    ]
    placed = [
        {"tenant_id": owner, "person_id": person, "org_group_id": group}
        for person, group in organisation.org_group_members
    ]
    circles = [{"tenant_id": owner, "id": c.id, "name": c.name} for c in organisation.circles]
    members = [
        {"tenant_id": owner, "circle_id": c.id, "person_id": person}
        for c in organisation.circles
        for person in c.member_ids
    ]
    with plain_write_transaction(engine) as connection:
        for table, rows in (
            (tables.org_groups, groups),  # parents first (Organisation checks it)
            (tables.org_group_members, placed),
            (tables.circles, circles),
            (tables.circle_members, members),
        ):
            if rows:
                connection.execute(table.insert(), rows)


def _reference_row(record: Any, owner: int) -> dict[str, Any]:
    row = {**asdict(record), "tenant_id": owner}
    if "counter_definition_ids" in row:  # stored as JSON text, null when none
        counters = row["counter_definition_ids"]
        row["counter_definition_ids"] = orjson.dumps(list(counters)).decode() if counters else None
    for column, value in row.items():  # JSON text too (storage/tables.py)
        if column.endswith("_translations"):
            row[column] = orjson.dumps(dict(value)).decode()
        elif column == "allowed_durations":
            row[column] = orjson.dumps([str(duration) for duration in value]).decode()
    return row


def activity_definition_row(
    record: ActivityDefinition, owner: int, key: int
) -> dict[str, Any]:
    """The row of an activity definition: its GUID is the id the API shows, ``key`` the
    surrogate the tables share (``storage/tables.py``)."""
    row = _reference_row(record, owner)
    row.update(
        id=key,
        guid=record.id,
        parent_guid=row.pop("parent_id"),
        name_translations=dump_translations(record.name_translations),
    )
    return row


def _versioned(row: dict[str, Any], version: int) -> dict[str, Any]:
    return {**row, "change_version": version}


def insert_clockings(
    engine: Engine, owner: int, drafts: Iterator[ClockingDraft], *, calculate: bool = True
) -> int:
    """Insert clockings in batches, one transaction per batch; returns the count.

    Each batch recalculates the totals of the person-days it touched, in its own
    transaction, as any write does. ``calculate=False`` leaves them out (benchmarks
    that only need clockings; ``recalculate_tenant`` can fill them in later).
    """
    total = 0
    while batch := list(itertools.islice(drafts, SEED_BATCH)):
        with write_transaction(engine, owner) as tx:
            ids = tx.allocate_ids("clockings", len(batch))
            rows = [
                clocking_values(d, owner, i, tx.next_change_version())
                for d, i in zip(batch, ids, strict=True)
            ]
            tx.connection.execute(tables.clockings.insert(), rows)
            if calculate:
                recalculate(tx, person_days_of(batch))
        total += len(batch)
    return total


def recalculate_tenant(engine: Engine, tenant: str) -> int:
    """Recalculate every person-day of a tenant that has clockings or totals.

    For data written before the totals existed (migration 0002), or after reference
    data such as a person's shift changed outside the API. Returns the person-days.
    """
    owner = tenant_id(engine, tenant)
    days: set[PersonDay] = set()
    with read_transaction(engine) as connection:
        for table in (tables.clockings, *tables.TOTAL_TABLES.values()):
            query = sa.select(table.c.person_id, table.c.date).where(table.c.tenant_id == owner)
            days.update((row.person_id, row.date) for row in connection.execute(query.distinct()))
    ordered = sorted(days)
    for start in range(0, len(ordered), SEED_BATCH):
        with write_transaction(engine, owner) as tx:
            recalculate(tx, ordered[start : start + SEED_BATCH])
    return len(ordered)


DEMO_TENANT = "acme"


def bootstrap_demo(engine: Engine, *, until: dt.date) -> NewClient | None:
    """On a database with no tenant: tenant ``acme``, an all-scopes client, demo data.

    Returns the new client (its secret is shown once), or None when the database
    already had tenants and was left alone.
    """
    if list_tenants(engine):
        return None
    create_tenant(engine, DEMO_TENANT)
    client = create_client(engine, DEMO_TENANT, description="demo client created by make serve")
    seed_tenant(engine, DEMO_TENANT, people=25, days=60, seed=1, until=until)
    return client
