"""The mirror's tables: a typed column per field, nested ids flattened, plus the raw JSON.

One table per collection (``clockings``, ``paid_presences``, ``activity_durations``,
``calculated_totals``),
keyed by the record's ``id``. Nested references become ``<name>_id`` columns
(``person_id``, ``terminal_id``, ...), a geolocation two columns; lists
(``activity_levels``, ``counter_definitions``) stay JSON: ``activity_levels`` is
``[{"level": 1, "activityDefinitionId": "<GUID>"}, ...]`` (seed 003: the id is a string;
see docs/sync.md for mirrors made when this server sent integers). ``raw`` is the record as the
API sent it, external references included. ``sync_generation`` is the snapshot
generation that last saw the row (see ``_mirror.py``).

Three bookkeeping tables: ``chronodelta_sync_state`` (one row per collection, the
``SyncState``), ``chronodelta_sync_tombstones`` (the id and changeVersion of each
Delete applied, so that an older InsertOrUpdate of a deleted record is ignored) and
``chronodelta_sync_schema`` (one row: the mirror's schema version, ``_schema.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

Wire = dict[str, Any]
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
    sa.Column("client_id", sa.Text, nullable=False, server_default=""),
)

# One row: the version of these tables the mirror was made or last upgraded to.
schema_table = sa.Table(
    "chronodelta_sync_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

tombstones_table = sa.Table(
    "chronodelta_sync_tombstones",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("change_version", sa.String(20), nullable=False),
    sa.Column(GENERATION, sa.Integer, nullable=False),
)


def json_text(value: Any) -> str:
    """JSON as text, the form both databases take for a JSON column."""
    return orjson.dumps(value).decode()


def _id(ref: Any) -> Any:
    return None if ref is None else ref["id"]


def _date(text: str) -> str:
    dt.date.fromisoformat(text)  # ValueError for anything but an ISO date
    return text


def _levels(levels: Any) -> str | None:
    if not levels:
        return None
    return json_text(
        [
            {"level": lv["level"], "activityDefinitionId": lv["activityDefinition"]["id"]}
            for lv in levels
        ]
    )


# Row builders: one wire record (the decoded JSON object) to the values of its table's
# columns, in the table's order, without the generation (the mirror appends it). They
# run once per record of a million-record snapshot, so they build the tuple directly
# from the wire dict: no model objects, no per-column calls. Dates stay ISO text and
# JSON columns are JSON text, which both SQLite and PostgreSQL take as they are.


def clocking_row(c: Wire) -> tuple[Any, ...]:
    get = c.get
    geo = get("geolocation")
    return (
        c["id"],
        c["changeVersion"],
        c["person"]["id"],
        _date(c["date"]),
        c["timeOfDayInMinutes"],
        get("originalTimeOfDayInMinutes"),
        get("calculatedTimeOfDayInMinutes"),
        get("isGenerated"),
        _id(get("terminal")),
        None if geo is None else geo["longitude"],
        None if geo is None else geo["latitude"],
        c["kind"],
        _id(get("reason")),
        get("isOpen"),
        _levels(get("activityLevels")),
        get("status"),
        json_text(c),
    )


def paid_presence_row(p: Wire) -> tuple[Any, ...]:
    return (
        p["id"],
        p["changeVersion"],
        p["person"]["id"],
        _date(p["date"]),
        p["durationInMinutes"],
        _id(p.get("shiftDefinition")),
        json_text(p),
    )


def activity_duration_row(a: Wire) -> tuple[Any, ...]:
    get = a.get
    request = _id(get("request"))
    counters = get("counterDefinitions")
    return (
        a["id"],
        a["changeVersion"],
        a["person"]["id"],
        _date(a["date"]),
        a["durationInMinutes"],
        _levels(get("activityLevels")),
        _id(get("absenceDefinition")),
        None if request is None else str(request),
        json_text([c["id"] for c in counters]) if counters else None,
        get("status"),
        get("isAuthorized"),
        json_text(a),
    )


def calculated_total_row(t: Wire) -> tuple[Any, ...]:
    return (
        t["id"],
        t["changeVersion"],
        t["person"]["id"],
        _date(t["date"]),
        t["normalTimeDurationInMinutes"],
        t["timePresentDurationInMinutes"],
        t["calculatedPresenceDurationInMinutes"],
        t["weeklyHours1DurationInMinutes"],
        t["weeklyHours2DurationInMinutes"],
        t["weeklyHours3DurationInMinutes"],
        t["payPeriodHoursDurationInMinutes"],
        t["flextimeDurationInMinutes"],
        t["flextimeBalanceInMinutes"],
        _id(t.get("shiftDefinition")),
        json_text(t),
    )


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
    row: Callable[[Wire], tuple[Any, ...]]
    filters_kind: bool

    @property
    def columns(self) -> list[str]:
        """The table's columns in the order ``row`` gives them, then the generation."""
        return [column.name for column in self.table.c]


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
CALCULATED_TOTALS_TABLE = sa.Table(
    "calculated_totals",
    metadata,
    *_common(
        sa.Column("normal_time_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("time_present_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("calculated_presence_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("weekly_hours_1_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("weekly_hours_2_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("weekly_hours_3_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("pay_period_hours_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("flextime_duration_in_minutes", sa.Integer, nullable=False),
        sa.Column("flextime_balance_in_minutes", sa.Integer, nullable=False),
        sa.Column("shift_definition_id", sa.BigInteger),
    ),
)

# The collections whose delta the vendor documents (seeds 001, 002, 003, and
# calculated-totals in the contract's "Fidelity").
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
        MirroredCollection(
            "calculated-totals",
            "calculated_totals",
            CALCULATED_TOTALS_TABLE,
            calculated_total_row,
            False,
        ),
    )
}
