"""the calculated-totals collection (issue 11, item 9)

One record per person and day (docs/calculation.md, "Calculated totals"). The table
is filled here for the clockings already stored, with the rules of
``chronodelta.domain`` (``day_figures``, ``running_totals``), so that an upgraded
database serves the collection at once: each tenant's records get ids from its
``calculated-totals`` counter and change versions after every version it has, with a
change mark, as one write transaction would give them. The tables are read as they
stand at this revision (the definitions below), not through ``storage.tables``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from chronodelta.domain import (
    ClockingKind,
    ClockingStatus,
    DayClocking,
    ShiftWindow,
    day_figures,
    running_totals,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLLECTION = "calculated-totals"
INSERT_BATCH = 500

_clockings = sa.table(
    "clockings",
    *(sa.column(name) for name in ("tenant_id", "id", "person_id", "date", "status", "kind")),
    *(sa.column(name) for name in ("calculated_time_of_day", "is_generated")),
    *(sa.column(name) for name in ("original_time_of_day", "reason_id", "is_open")),
)
_people = sa.table(
    "people", sa.column("tenant_id"), sa.column("id"), sa.column("shift_definition_id")
)
_shifts = sa.table(
    "shift_definitions",
    *(sa.column(name) for name in ("tenant_id", "id", "start_minutes", "end_minutes")),
    sa.column("break_minutes"),
)
_counters = sa.table(
    "tenant_counters", sa.column("tenant_id"), sa.column("name"), sa.column("value")
)
_marks = sa.table(
    "change_marks", sa.column("tenant_id"), sa.column("change_version"), sa.column("committed_at")
)


def upgrade() -> None:
    _create_table()
    connection = op.get_bind()
    table = sa.Table("calculated_totals", sa.MetaData(), autoload_with=connection)
    tenants = connection.scalars(sa.text("SELECT id FROM tenants ORDER BY id")).all()
    for tenant_id in tenants:
        _fill_tenant(connection, table, tenant_id)


def downgrade() -> None:
    connection = op.get_bind()
    for table in ("departures", "deltas"):
        connection.execute(
            sa.text(f"DELETE FROM {table} WHERE collection = :name"), {"name": COLLECTION}
        )
    connection.execute(
        sa.text("DELETE FROM tenant_counters WHERE name = :name"), {"name": COLLECTION}
    )
    with op.batch_alter_table("calculated_totals", schema=None) as batch_op:
        batch_op.drop_index("ix_calculated_totals_tenant_date_id")
        batch_op.drop_index("ix_calculated_totals_tenant_change_version")
    op.drop_table("calculated_totals")


def _create_table() -> None:
    minutes = (
        "normal_time_minutes",
        "time_present_minutes",
        "calculated_presence_minutes",
        "weekly_hours_1_minutes",
        "weekly_hours_2_minutes",
        "weekly_hours_3_minutes",
        "pay_period_hours_minutes",
        "flextime_minutes",
        "flextime_balance_minutes",
    )
    op.create_table(
        "calculated_totals",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("change_version", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in minutes),
        sa.Column("shift_definition_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["people.tenant_id", "people.id"],
            name=op.f("fk_calculated_totals_tenant_id_person_id"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_calculated_totals_tenant_id")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calculated_totals")),
        sa.UniqueConstraint(
            "tenant_id",
            "person_id",
            "date",
            name=op.f("uq_calculated_totals_tenant_id_person_id_date"),
        ),
    )
    with op.batch_alter_table("calculated_totals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calculated_totals_tenant_change_version",
            ["tenant_id", "change_version"],
            unique=False,
        )
        batch_op.create_index(
            "ix_calculated_totals_tenant_date_id", ["tenant_id", "date", "id"], unique=False
        )


# ---- filling it -------------------------------------------------------------------------


def _fill_tenant(connection: sa.Connection, table: sa.Table, tenant_id: int) -> None:
    """The tenant's records, person by person, under ids and versions of its own."""
    version = _counter(connection, tenant_id, "change_version")
    last_id = _counter(connection, tenant_id, COLLECTION)
    first_version = version
    rows: list[dict[str, Any]] = []
    for record in _records(connection, tenant_id):
        version, last_id = version + 1, last_id + 1
        rows.append({**record, "tenant_id": tenant_id, "id": last_id, "change_version": version})
        if len(rows) >= INSERT_BATCH:
            connection.execute(table.insert(), rows)
            rows = []
    if rows:
        connection.execute(table.insert(), rows)
    _set_counter(connection, tenant_id, COLLECTION, last_id)
    if version != first_version:
        _set_counter(connection, tenant_id, "change_version", version)
        connection.execute(
            _marks.insert().values(
                tenant_id=tenant_id, change_version=version, committed_at=dt.datetime.now(dt.UTC)
            )
        )


def _records(connection: sa.Connection, tenant_id: int) -> Iterator[dict[str, Any]]:
    """The records of every person with clockings, in (person, date) order."""
    shifts = _shift_windows(connection, tenant_id)
    c = _clockings.c
    query = (
        sa.select(c.person_id, c.date, c.id, c.calculated_time_of_day, c.kind, c.status)
        .add_columns(c.is_generated, c.original_time_of_day, c.reason_id, c.is_open)
        .where(c.tenant_id == tenant_id, c.status != ClockingStatus.DELETED.value)
        .where(c.kind.in_([ClockingKind.IN_OUT.value, ClockingKind.REASON.value]))
        .order_by(c.person_id, c.date, c.id)
    )
    rows = connection.execute(query)
    for person_id, person_rows in itertools.groupby(rows, key=lambda row: row.person_id):
        shift = shifts.get(person_id)
        figures = {}
        for date, day_rows in itertools.groupby(person_rows, key=lambda row: row.date):
            date = _as_date(date)
            day = day_figures(date, [_day_clocking(row) for row in day_rows], shift)
            if day is not None:
                figures[date] = day
        for total in running_totals(figures).values():
            yield _values(person_id, total)


def _day_clocking(row: Any) -> DayClocking:
    return DayClocking(
        id=row.id,
        time=row.calculated_time_of_day,
        kind=ClockingKind(row.kind),
        status=ClockingStatus(row.status),
        is_generated=bool(row.is_generated),
        is_edited=row.original_time_of_day is not None,
        reason_id=row.reason_id,
        is_open=None if row.is_open is None else bool(row.is_open),
    )


def _shift_windows(connection: sa.Connection, tenant_id: int) -> dict[int, ShiftWindow]:
    p, s = _people.c, _shifts.c
    query = (
        sa.select(p.id, s.id.label("shift_id"), s.start_minutes, s.end_minutes, s.break_minutes)
        .join(_shifts, sa.and_(s.tenant_id == p.tenant_id, s.id == p.shift_definition_id))
        .where(p.tenant_id == tenant_id)
    )
    return {
        row.id: ShiftWindow(row.shift_id, row.start_minutes, row.end_minutes, row.break_minutes)
        for row in connection.execute(query)
    }


def _values(person_id: int, total: Any) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "date": total.date,
        "normal_time_minutes": total.normal_minutes,
        "time_present_minutes": total.present_minutes,
        "calculated_presence_minutes": total.calculated_presence_minutes,
        "weekly_hours_1_minutes": total.weekly_hours_1_minutes,
        "weekly_hours_2_minutes": total.weekly_hours_2_minutes,
        "weekly_hours_3_minutes": total.weekly_hours_3_minutes,
        "pay_period_hours_minutes": total.pay_period_minutes,
        "flextime_minutes": total.flextime_minutes,
        "flextime_balance_minutes": total.flextime_balance_minutes,
        "shift_definition_id": total.shift_definition_id,
    }


def _as_date(value: Any) -> dt.date:
    """A lightweight ``sa.table`` column has no type: SQLite hands dates back as text."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _counter(connection: sa.Connection, tenant_id: int, name: str) -> int:
    k = _counters.c
    value = connection.scalar(sa.select(k.value).where(k.tenant_id == tenant_id, k.name == name))
    if value is None:
        connection.execute(_counters.insert().values(tenant_id=tenant_id, name=name, value=0))
        return 0
    return int(value)


def _set_counter(connection: sa.Connection, tenant_id: int, name: str, value: int) -> None:
    k = _counters.c
    connection.execute(
        _counters.update().where(k.tenant_id == tenant_id, k.name == name).values(value=value)
    )
