"""reference collections in the vendor's shapes (issue 11, item 6)

Contract, "Fidelity" -> "Reference collections": translatable names and friendly
names and codes, ``isEnabled`` everywhere, absence definitions' allowed durations,
reason flag and group, counter definitions' group and unit, and the people's personal
information; badge numbers become unique per tenant.

Existing rows get: no translations, ``friendlyName`` = ``name`` and ``friendlyCode`` =
the code, enabled, absence definitions usable as clocking reasons (they were: a Reason
clocking's ``reason.id`` points at one) with durations FullDay, HalfDay and Interval,
counters in Duration (what the calculation books on them), people's ``sex`` Unknown
and initials from their names; the rest stays empty (left out on the wire).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EXISTING_ALLOWED_DURATIONS = '["FullDay","HalfDay","Interval"]'


def _translations(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="{}")


def _enabled() -> sa.Column[bool]:
    return sa.Column("is_enabled", sa.Boolean(), nullable=False, server_default=sa.true())


def upgrade() -> None:
    _definitions()
    _people()


def _definitions() -> None:
    for table in ("shift_definitions", "terminals", "absence_definitions", "counter_definitions"):
        op.add_column(table, _translations("name_translations"))
        op.add_column(table, _enabled())
    for table in ("shift_definitions", "absence_definitions", "counter_definitions"):
        op.add_column(table, sa.Column("friendly_name", sa.String(100), nullable=True))
        op.add_column(table, _translations("friendly_name_translations"))
        op.execute(f"UPDATE {table} SET friendly_name = name")
    for table, code in (
        ("absence_definitions", "absence_code"),
        ("counter_definitions", "counter_code"),
    ):
        op.add_column(table, sa.Column("friendly_code", sa.String(40), nullable=True))
        op.add_column(table, _translations("friendly_code_translations"))
        op.execute(f"UPDATE {table} SET friendly_code = {code}")
    op.add_column(
        "absence_definitions",
        sa.Column("allowed_durations", sa.Text(), nullable=False, server_default="[]"),
    )
    op.execute(
        sa.text("UPDATE absence_definitions SET allowed_durations = :durations").bindparams(
            durations=EXISTING_ALLOWED_DURATIONS
        )
    )
    op.add_column(
        "absence_definitions",
        sa.Column("is_reason_for_clocking", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "absence_definitions", sa.Column("absence_group_id", sa.BigInteger(), nullable=True)
    )
    op.add_column(
        "counter_definitions", sa.Column("counter_group_id", sa.BigInteger(), nullable=True)
    )
    op.add_column(
        "counter_definitions",
        sa.Column("unit", sa.String(10), nullable=False, server_default="Unknown"),
    )
    op.execute("UPDATE counter_definitions SET unit = 'Duration'")


PEOPLE_TEXT = (
    ("initials", 20),
    ("telephone", 40),
    ("mobile", 40),
    ("email", 254),
    ("address", 200),
    ("postal_code", 20),
    ("town", 100),
    ("country_iso_code", 3),
    ("nationality_iso_code", 3),
)


def _people() -> None:
    for name, length in PEOPLE_TEXT:
        op.add_column("people", sa.Column(name, sa.String(length), nullable=True))
    op.add_column(
        "people", sa.Column("sex", sa.String(8), nullable=False, server_default="Unknown")
    )
    op.add_column("people", sa.Column("birth_date", sa.Date(), nullable=True))
    op.add_column("people", sa.Column("pay_group", sa.String(40), nullable=True))
    op.add_column("people", sa.Column("terminal_group_id", sa.BigInteger(), nullable=True))
    _fill_initials()
    _refuse_duplicate_badges()
    op.create_index(
        "ix_people_tenant_badge_number", "people", ["tenant_id", "badge_number"], unique=True
    )


def _fill_initials() -> None:
    """ "Jan" "Van den Broeck" -> "J.V.": the first letters, as the demo data writes them."""
    connection = op.get_bind()
    people = sa.table(
        "people",
        sa.column("tenant_id", sa.Integer()),
        sa.column("id", sa.BigInteger()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("initials", sa.String()),
    )
    rows = connection.execute(
        sa.select(people.c.tenant_id, people.c.id, people.c.first_name, people.c.last_name)
    ).all()
    updates = [
        {"t": row.tenant_id, "i": row.id, "initials": _initials(row.first_name, row.last_name)}
        for row in rows
    ]
    if updates:
        connection.execute(
            people.update()
            .where(people.c.tenant_id == sa.bindparam("t"), people.c.id == sa.bindparam("i"))
            .values(initials=sa.bindparam("initials")),
            updates,
        )


def _initials(first_name: str, last_name: str) -> str | None:
    letters = "".join(f"{word[0].upper()}." for word in (first_name, last_name) if word)
    return letters or None


def _refuse_duplicate_badges() -> None:
    """Badge numbers become unique per tenant: say which ones are not, rather than fail
    with the database's bare constraint error."""
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT tenant_id, badge_number FROM people GROUP BY tenant_id, badge_number "
                "HAVING COUNT(*) > 1 ORDER BY tenant_id, badge_number"
            )
        )
        .all()
    )
    if duplicates:
        shown = ", ".join(f"tenant {row[0]} badge {row[1]!r}" for row in duplicates[:10])
        raise RuntimeError(
            "migration 0005 makes badge numbers unique per tenant, and these are used by "
            f"more than one person: {shown}; give each person their own badge and upgrade again"
        )


def downgrade() -> None:
    op.drop_index("ix_people_tenant_badge_number", table_name="people")
    for column in ("terminal_group_id", "pay_group", "birth_date", "sex"):
        _drop("people", column)
    for name, _length in reversed(PEOPLE_TEXT):
        _drop("people", name)
    for column in ("unit", "counter_group_id"):
        _drop("counter_definitions", column)
    for column in ("absence_group_id", "is_reason_for_clocking", "allowed_durations"):
        _drop("absence_definitions", column)
    for table in ("absence_definitions", "counter_definitions"):
        _drop(table, "friendly_code_translations")
        _drop(table, "friendly_code")
    for table in ("shift_definitions", "absence_definitions", "counter_definitions"):
        _drop(table, "friendly_name_translations")
        _drop(table, "friendly_name")
    for table in ("shift_definitions", "terminals", "absence_definitions", "counter_definitions"):
        _drop(table, "is_enabled")
        _drop(table, "name_translations")


def _drop(table: str, column: str) -> None:
    # SQLite (3.35+) drops a plain column in place; batch mode would rebuild the table,
    # which the foreign keys pointing at people and the definitions forbid.
    op.drop_column(table, column)
