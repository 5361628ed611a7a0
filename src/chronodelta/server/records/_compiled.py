"""Page serializers compiled per collection: a page of driver rows to wire records.

Issue 14, item 2: pages at the hardware's pace. A list or snapshot page is up to 1,000
records, and the per-record path (SQLAlchemy ``Row`` objects with their type
processing, then one ``*_to_wire`` call per record, which loops or branches per field)
cost more than reading the rows. So each collection's field table (``WireField``s in
``_serialize.py`` and ``activities/_wire.py``) is turned, once per worker and dialect,
into the source of one function that walks the driver's plain tuples and builds the
wire dicts inline: no call per record, no ``Row``. The change version comes from the
database already as its 20 hex digits (``hex_version``). The records are the same
Python values the per-record functions give, so external references are added to them
as before, and ``orjson`` writes the same bytes (``tests/server/records/test_compiled.py``
checks that on generated rows, on SQLite and PostgreSQL).

The driver's values differ by dialect only where SQLite has no type of its own: a date
is ISO text there and a boolean 0 or 1; the generated code converts those two.

Measured in-process (CPU time, 1,000-clocking pages on SQLite; BENCHMARKS.md, "Pages
at the hardware's pace"): the page with ``orjson.dumps`` went from 8.4 ms to 5.0 ms; the
generated function alone takes 0.9 ms where the per-record functions took 1.4 ms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from chronodelta.server.records._serialize import Wire, WireField, activity_levels_to_wire

DriverRow = Sequence[Any]


@dataclass(frozen=True)
class Kind:
    """How a field's column values become its wire value.

    ``template`` is a Python expression over ``{0}``, ``{1}``, ... (the values of the
    field's columns, in order); the field is present when its first ``gate`` columns
    are not null (all of them when ``gate`` is None), as the per-record functions do.
    """

    template: str
    gate: int | None = None


KINDS: dict[str, Kind] = {
    "plain": Kind("{0}"),
    "version": Kind("{0}"),  # selected as hex text (hex_version)
    "ref": Kind('{{"id": {0}}}'),
    "ref-list": Kind('[{{"id": item}} for item in loads({0})]'),
    "json": Kind("loads({0})"),
    "localized": Kind('{{"default": {0}, "translations": loads({1})}}'),
    # Activity definitions' name: translations may be null (activities/_wire.py).
    "name": Kind('{{"default": {0}, "translations": loads({1}) if {1} else {{}}}}', gate=1),
    "activity-levels": Kind("activity_levels_to_wire({0})"),
    "geolocation": Kind('{{"longitude": {0}, "latitude": {1}}}'),
}
# What the generated functions may call.
_NAMESPACE: dict[str, Any] = {
    "loads": orjson.loads,
    "activity_levels_to_wire": activity_levels_to_wire,
    "date_from_text": dt.date.fromisoformat,
}


@dataclass(frozen=True)
class PageSerializer:
    """``columns`` to select, and ``serialize``: their driver rows to wire records."""

    columns: tuple[sa.ColumnElement[Any], ...]
    serialize: Callable[[Sequence[DriverRow]], list[Wire]]
    source: str  # the generated function, for reading and debugging


def hex_version(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[str]:
    """The change version as the wire shows it (``format_change_version``), in SQL:
    the database formats it in C (about a fifth of the serializer's time in Python)."""
    if dialect == "postgresql":
        digits = sa.func.upper(sa.func.to_hex(column))
        return sa.func.lpad(digits, sa.literal_column("20"), sa.literal_column("'0'"))
    return sa.func.printf(sa.literal_column("'%020X'"), column)


def compile_page_serializer(
    name: str, table: sa.Table, fields: Sequence[WireField], dialect: str
) -> PageSerializer:
    """The page serializer of a collection stored in ``table`` (built once: see module)."""
    columns: list[sa.ColumnElement[Any]] = []
    values: list[str] = []  # per column: the Python expression of its value
    for field in fields:
        for column_name in field.columns:
            column = table.c[column_name]
            local = f"c{len(columns)}"
            if field.kind == "version":
                columns.append(hex_version(column, dialect))
            else:
                columns.append(column)
            values.append(_value(local, column, dialect))
    function = f"serialize_{name.replace('-', '_')}"
    source = _source(function, table, fields, values)
    namespace = dict(_NAMESPACE)
    exec(compile(source, f"<page serializer {name}, {dialect}>", "exec"), namespace)
    return PageSerializer(tuple(columns), namespace[function], source)


def _value(local: str, column: sa.Column[Any], dialect: str) -> str:
    """A column's value as the per-record path sees it (SQLAlchemy's type processing)."""
    if dialect == "sqlite" and isinstance(column.type, sa.Date):
        return f"date_from_text({local})"
    if dialect == "sqlite" and isinstance(column.type, sa.Boolean):
        return f"bool({local})"
    return local


def _source(function: str, table: sa.Table, fields: Sequence[WireField], values: list[str]) -> str:
    """The function's text: the leading fields that are always present in one dict
    display, every later one in order, each behind its null check if it can be null."""
    literal: list[str] = []
    statements: list[str] = []
    at = 0
    for field in fields:
        kind = KINDS[field.kind]
        count = len(field.columns)
        gate = range(at, at + (count if kind.gate is None else kind.gate))
        nullable = [f"c{i} is not None" for i in gate if table.c[field.columns[i - at]].nullable]
        value = kind.template.format(*values[at : at + count])
        at += count
        if not nullable and not statements:
            literal.append(f"{field.name!r}: {value}")
        elif not nullable:
            statements.append(f"record[{field.name!r}] = {value}")
        else:
            condition = " and ".join(nullable)
            statements.append(f"if {condition}:\n            record[{field.name!r}] = {value}")
    row = ", ".join(f"c{i}" for i in range(at))
    body = "\n        ".join([f"record = {{{', '.join(literal)}}}", *statements, "append(record)"])
    return (
        f"def {function}(rows):\n"
        f"    page = []\n"
        f"    append = page.append\n"
        f"    for {row}, in rows:\n"
        f"        {body}\n"
        f"    return page\n"
    )


# ---- reading driver rows ----------------------------------------------------------


def driver_rows(connection: sa.Connection, query: sa.Select[Any]) -> list[DriverRow]:
    """All rows of ``query`` as the driver returns them: plain tuples.

    SQLAlchemy still compiles (and caches) the statement and runs it in the
    connection's transaction; only its ``Row`` objects and their type processing are
    skipped, which the compiled serializers do themselves.
    """
    result = connection.execute(_unbuffered(connection, query))
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def driver_row_chunks(
    connection: sa.Connection, query: sa.Select[Any], size: int
) -> Iterator[Sequence[DriverRow]]:
    """The rows of ``query`` in chunks of ``size``, never all in memory at once.

    SQLite's cursor steps the statement as rows are fetched, so its driver rows are
    read in chunks directly. PostgreSQL needs a server-side cursor for that, which is
    SQLAlchemy's streamed result; its rows hold the driver's values unchanged (no type
    processing for these column types), so the same serializer reads them.
    """
    if connection.dialect.name == "postgresql":
        streamed = {"stream_results": True, "yield_per": size}
        yield from connection.execute(query, execution_options=streamed).partitions()
        return
    result = connection.execute(_unbuffered(connection, query))
    try:
        while rows := result.cursor.fetchmany(size):
            yield rows
    finally:
        result.close()


def _unbuffered(connection: sa.Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    """``query``, on a connection whose results are not streamed. A streamed result
    reads its first row ahead into SQLAlchemy's buffer, where the driver's cursor no
    longer has it, and an option set on the connection (``execution_options`` changes
    the connection itself) wins over one given here: so refuse rather than lose a row."""
    options = connection.get_execution_options()
    if options.get("stream_results") or options.get("yield_per"):
        raise ValueError("driver rows are read from a connection that does not stream")
    return query
