"""The mirror's tables: a typed column per field, nested ids flattened, plus the raw JSON.

One table per collection (``clockings``, ``paid_presences``, ``activity_durations``),
keyed by the record's ``id``. Nested references become ``<name>_id`` columns
(``person_id``, ``terminal_id``, ...), a geolocation two columns; lists
(``activity_levels``, ``counter_definitions``) stay JSON. ``raw`` is the record as the
API sent it, external references included. ``sync_generation`` is the snapshot
generation that last saw the row (see ``_mirror.py``).

Two bookkeeping tables: ``chronodelta_sync_state`` (one row per collection, the
``SyncState``) and ``chronodelta_sync_tombstones`` (the id and changeVersion of each
Delete applied, so that an older InsertOrUpdate of a deleted record is ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from chronodelta.client import ActivityDuration, Clocking, PaidPresence

Row = dict[str, Any]
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
GENERATION = "sync_generation"

metadata = sa.MetaData()

state_table = sa.Table(
    "chronodelta_sync_state",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("filter", sa.Text, nullable=False),
    sa.Column("external_references", sa.Text, nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("link", sa.Text),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("snapshot_records", sa.BigInteger, nullable=False),
    sa.Column("changes_applied", sa.BigInteger, nullable=False),
    sa.Column("last_success", sa.DateTime(timezone=True)),
    sa.Column("link_stored_at", sa.DateTime(timezone=True)),
    sa.Column("revision", sa.BigInteger, nullable=False),
)

tombstones_table = sa.Table(
    "chronodelta_sync_tombstones",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("change_version", sa.String(20), nullable=False),
    sa.Column(GENERATION, sa.Integer, nullable=False),
)


def _ref_id(ref: Any) -> Any:
    return None if ref is None else ref.id


def _levels(levels: Any) -> list[Row] | None:
    if not levels:
        return None
    return [{"level": lv.level, "activityDefinitionId": lv.activity_definition.id} for lv in levels]


def clocking_row(c: Clocking) -> Row:
    geo = c.geolocation
    return {
        "id": c.id,
        "change_version": c.change_version,
        "person_id": c.person.id,
        "date": c.date,
        "time_of_day_in_minutes": c.time_of_day_in_minutes,
        "original_time_of_day_in_minutes": c.original_time_of_day_in_minutes,
        "calculated_time_of_day_in_minutes": c.calculated_time_of_day_in_minutes,
        "is_generated": c.is_generated,
        "terminal_id": _ref_id(c.terminal),
        "geolocation_longitude": None if geo is None else geo.longitude,
        "geolocation_latitude": None if geo is None else geo.latitude,
        "kind": c.kind,
        "reason_id": _ref_id(c.reason),
        "is_open": c.is_open,
        "activity_levels": _levels(c.activity_levels),
        "status": c.status,
        "raw": c.raw,
    }


def paid_presence_row(p: PaidPresence) -> Row:
    return {
        "id": p.id,
        "change_version": p.change_version,
        "person_id": p.person.id,
        "date": p.date,
        "duration_in_minutes": p.duration_in_minutes,
        "shift_definition_id": _ref_id(p.shift_definition),
        "raw": p.raw,
    }


def activity_duration_row(a: ActivityDuration) -> Row:
    request = _ref_id(a.request)
    return {
        "id": a.id,
        "change_version": a.change_version,
        "person_id": a.person.id,
        "date": a.date,
        "duration_in_minutes": a.duration_in_minutes,
        "activity_levels": _levels(a.activity_levels),
        "absence_definition_id": _ref_id(a.absence_definition),
        "request_id": None if request is None else str(request),
        "counter_definitions": [c.id for c in a.counter_definitions] or None,
        "status": a.status,
        "is_authorized": a.is_authorized,
        "raw": a.raw,
    }


def _common(*columns: sa.Column[Any]) -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("change_version", sa.String(20), nullable=False),
        sa.Column("person_id", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        *columns,
        sa.Column("raw", JSON, nullable=False),
        sa.Column(GENERATION, sa.Integer, nullable=False),
    ]


@dataclass(frozen=True)
class MirroredCollection:
    """A collection the sync mirrors: its wire name, the ``Client`` attribute that reads
    it, its table and its row builder; ``filters_kind``: the delta accepts ``kind``."""

    name: str
    attribute: str
    table: sa.Table
    row: Callable[[Any], Row]
    filters_kind: bool


CLOCKINGS_TABLE = sa.Table(
    "clockings",
    metadata,
    *_common(
        sa.Column("time_of_day_in_minutes", sa.Integer, nullable=False),
        sa.Column("original_time_of_day_in_minutes", sa.Integer),
        sa.Column("calculated_time_of_day_in_minutes", sa.Integer),
        sa.Column("is_generated", sa.Boolean),
        sa.Column("terminal_id", sa.BigInteger),
        sa.Column("geolocation_longitude", sa.Float),
        sa.Column("geolocation_latitude", sa.Float),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason_id", sa.BigInteger),
        sa.Column("is_open", sa.Boolean),
        sa.Column("activity_levels", JSON),
        sa.Column("status", sa.String(32)),
    ),
)
PAID_PRESENCES_TABLE = sa.Table(
    "paid_presences",
    metadata,
    *_common(
        sa.Column("duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("shift_definition_id", sa.BigInteger),
    ),
)
ACTIVITY_DURATIONS_TABLE = sa.Table(
    "activity_durations",
    metadata,
    *_common(
        sa.Column("duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("activity_levels", JSON),
        sa.Column("absence_definition_id", sa.BigInteger),
        sa.Column("request_id", sa.String(64)),
        sa.Column("counter_definitions", JSON),
        sa.Column("status", sa.String(32)),
        sa.Column("is_authorized", sa.Boolean),
    ),
)

# The collections whose delta the vendor documents (seeds 001, 002, 003).
COLLECTIONS: dict[str, MirroredCollection] = {
    c.name: c
    for c in (
        MirroredCollection("clockings", "clockings", CLOCKINGS_TABLE, clocking_row, True),
        MirroredCollection(
            "paid-presences", "paid_presences", PAID_PRESENCES_TABLE, paid_presence_row, False
        ),
        MirroredCollection(
            "activity-durations",
            "activity_durations",
            ACTIVITY_DURATIONS_TABLE,
            activity_duration_row,
            False,
        ),
    )
}
