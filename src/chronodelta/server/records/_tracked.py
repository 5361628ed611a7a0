"""What paging and delta need to know about each collection, in one place.

A ``TrackedCollection`` ties a collection's table to its wire serializer, its keyset
order and its filter. Lists, delta snapshots and delta change feeds are written once,
generically, against this description.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from chronodelta.domain import (
    ACTIVITY_DEFINITIONS,
    ACTIVITY_DURATIONS,
    ACTIVITY_DURATIONS_FILTER,
    CALCULATED_TOTALS,
    CALCULATED_TOTALS_FILTER,
    CLOCKINGS,
    CLOCKINGS_FILTER,
    COUNTER_DEFINITIONS_FILTER,
    PAID_PRESENCES,
    PAID_PRESENCES_FILTER,
    REFERENCE_COLLECTIONS,
    CollectionFilterSpec,
    CollectionInfo,
    FilterCriteria,
)
from chronodelta.server.activities._wire import (
    ACTIVITY_DEFINITION_COLUMNS,
    ACTIVITY_DEFINITION_FIELDS,
    activity_definition_to_wire,
)
from chronodelta.server.records._compiled import (
    PageSerializer,
    compile_page_serializer,
    driver_rows,
)
from chronodelta.server.records._memberships import selection_condition
from chronodelta.server.records._serialize import (
    ACTIVITY_DURATION_COLUMNS,
    ACTIVITY_DURATION_FIELDS,
    CALCULATED_TOTAL_COLUMNS,
    CALCULATED_TOTAL_FIELDS,
    CLOCKING_COLUMNS,
    CLOCKING_FIELDS,
    PAID_PRESENCE_COLUMNS,
    PAID_PRESENCE_FIELDS,
    Wire,
    WireField,
    activity_duration_to_wire,
    calculated_total_to_wire,
    clocking_to_wire,
    paid_presence_to_wire,
    reference_columns,
    reference_fields,
    reference_serializer,
)
from chronodelta.storage import tables

# The column each multiple filter field constrains.
FILTER_COLUMNS = {
    "person": "person_id",
    "kind": "kind",
    "counter-group": "counter_group_id",  # counter definitions
    "enabled": "is_enabled",
}


@dataclass(frozen=True)
class TrackedCollection:
    """``columns`` and ``to_wire`` serialize one record (a get, a write's answer);
    ``fields`` describe the same wire record for the compiled page serializers."""

    info: CollectionInfo
    table: sa.Table
    columns: tuple[sa.ColumnElement[Any], ...]
    to_wire: Callable[[Sequence[Any]], Wire]
    filter_spec: CollectionFilterSpec | None
    # The column of the id the API shows: a surrogate-keyed table (activity
    # definitions, whose ids are GUIDs) pages in the order of that column.
    key_column: str = "id"
    fields: tuple[WireField, ...] = ()

    @property
    def name(self) -> str:
        return self.info.name

    def page_serializer(self, dialect: str) -> PageSerializer:
        """The compiled serializer of this collection's pages (``_compiled.py``)."""
        key = (self.name, dialect)
        if key not in _SERIALIZERS:  # once per worker and dialect; a race only compiles twice
            _SERIALIZERS[key] = compile_page_serializer(self.name, self.table, self.fields, dialect)
        return _SERIALIZERS[key]

    @property
    def dated(self) -> bool:
        """Dated collections page in (date, id) order and filter on date and kind."""
        return "date" in self.table.c

    def keyset(self) -> tuple[sa.ColumnElement[Any], ...]:
        c = self.table.c
        return (c.date, c.id) if self.dated else (c[self.key_column],)

    def page_key(self, record: Wire) -> tuple[Any, ...]:
        if self.dated:
            return (record["date"].isoformat(), record["id"])
        return (record["id"],)

    def after(self, key: Sequence[Any]) -> sa.ColumnElement[bool]:
        """Rows past the keyset position ``key`` (as ``page_key`` made it)."""
        c = self.table.c
        try:
            if self.dated:
                return sa.tuple_(c.date, c.id) > (dt.date.fromisoformat(key[0]), int(key[1]))
            if self.key_column != "id":
                if not isinstance(key[0], str):
                    raise TypeError(key[0])
                return c[self.key_column] > key[0]
            return c.id > int(key[0])
        except (IndexError, TypeError, ValueError):
            raise ValueError("bad keyset position") from None

    def conditions(
        self, criteria: FilterCriteria | None, tenant_id: int
    ) -> list[sa.ColumnElement[bool]]:
        """The filter as SQL. Never the tenant condition (callers add that); the tenant
        is that of the circles and org groups a ``person in circle(...)`` names."""
        if criteria is None:
            return []
        c, found = self.table.c, []
        if criteria.date_from is not None:
            found.append(c.date >= criteria.date_from)
        if criteria.date_to is not None:
            found.append(c.date <= criteria.date_to)
        for field, column in FILTER_COLUMNS.items():
            values = criteria.get(field)
            if values is not None:
                found.append(c[column].in_(sorted(values, key=str)))
        for selection in criteria.selections:
            person = c[FILTER_COLUMNS[selection.field]]
            found.append(selection_condition(person, tenant_id, selection))
        return found

    def in_scope(
        self, criteria: FilterCriteria | None, date: dt.date | None, kind: str | None
    ) -> bool:
        """Whether a record with these attributes matches a delta's filter (no person)."""
        if criteria is None or not self.dated or date is None:
            return True
        if criteria.date_from is not None and date < criteria.date_from:
            return False
        if criteria.date_to is not None and date > criteria.date_to:
            return False
        kinds = criteria.get("kind")
        return kinds is None or kind in kinds

    def select_in_scope(self, criteria: FilterCriteria | None, records: list[Wire]) -> list[Wire]:
        """The records that ``in_scope`` accepts, by their date and kind. A change feed
        asks this of every record it reads: here the criteria are read once a chunk."""
        if criteria is None or not self.dated:
            return records
        low, high, kinds = criteria.date_from, criteria.date_to, criteria.get("kind")
        return [
            record
            for record in records
            if (low is None or record["date"] >= low)
            and (high is None or record["date"] <= high)
            and (kinds is None or record.get("kind") in kinds)
        ]


_SERIALIZERS: dict[tuple[str, str], PageSerializer] = {}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of records and, when more follow, the keyset of the last one."""

    records: list[Wire]
    next_key: tuple[Any, ...] | None


def read_page(
    connection: sa.Connection,
    tracked: TrackedCollection,
    tenant_id: int,
    criteria: FilterCriteria | None,
    after: Sequence[Any] | None,
    limit: int,
    *,
    max_version: int | None = None,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> Page:
    """A keyset page: records in ``criteria`` and ``where`` after ``after``, versions
    <= ``max_version``."""
    table = tracked.table
    conditions = [table.c.tenant_id == tenant_id, *where]
    if max_version is not None:
        conditions.append(table.c.change_version <= max_version)
    if after is not None:
        conditions.append(tracked.after(after))
        criteria = _without_implied_lower_bound(tracked, criteria, after)
    serializer = tracked.page_serializer(connection.dialect.name)
    query = (
        sa.select(*serializer.columns)
        .where(*conditions, *tracked.conditions(criteria, tenant_id))
        .order_by(*tracked.keyset())
        .limit(limit + 1)
    )
    rows = driver_rows(connection, query)
    records = serializer.serialize(rows[:limit])
    next_key = tracked.page_key(records[-1]) if len(rows) > limit else None
    return Page(records, next_key)


def _without_implied_lower_bound(
    tracked: TrackedCollection, criteria: FilterCriteria | None, after: Sequence[Any]
) -> FilterCriteria | None:
    """The keyset implies date >= the last date sent >= date_from, so the filter's lower
    bound selects nothing less. Leaving it out lets SQLite seek the index to the keyset;
    with both it scans from the range's start on every page, and a walk over n records
    costs O(n^2). The same rows either way."""
    if criteria is None or not tracked.dated or criteria.date_from is None:
        return criteria
    if criteria.date_from <= dt.date.fromisoformat(after[0]):
        return replace(criteria, date_from=None)
    return criteria


def departure_row(collection: str, old: Any, version: int, *, removed: bool) -> dict[str, Any]:
    """A ``departures`` row keeping ``old``'s filter attributes: the change at
    ``version`` moved it out of them, or (``removed``) deleted it for good."""
    return {
        "tenant_id": old.tenant_id,
        "collection": collection,
        "record_id": old.id,
        "change_version": version,
        "old_date": getattr(old, "date", None),
        "old_kind": getattr(old, "kind", None),
        "removed": removed,
    }


def record_departure(
    connection: sa.Connection, collection: str, old: Any, version: int, *, removed: bool
) -> None:
    connection.execute(
        tables.departures.insert(), [departure_row(collection, old, version, removed=removed)]
    )


# The reference lists that take a filter (their columns are in FILTER_COLUMNS).
REFERENCE_FILTERS: dict[str, CollectionFilterSpec] = {
    "counter-definitions": COUNTER_DEFINITIONS_FILTER,
}


def _reference(info: CollectionInfo) -> TrackedCollection:
    if info.name == ACTIVITY_DEFINITIONS.name:
        return TrackedCollection(
            info,
            tables.activity_definitions,
            ACTIVITY_DEFINITION_COLUMNS,
            activity_definition_to_wire,
            None,
            key_column="guid",
            fields=ACTIVITY_DEFINITION_FIELDS,
        )
    return TrackedCollection(
        info,
        tables.REFERENCE_TABLES[info.name],
        reference_columns(info.name),
        reference_serializer(info.name),
        REFERENCE_FILTERS.get(info.name),
        fields=reference_fields(info.name),
    )


TRACKED: dict[str, TrackedCollection] = {
    CLOCKINGS.name: TrackedCollection(
        CLOCKINGS,
        tables.clockings,
        CLOCKING_COLUMNS,
        clocking_to_wire,
        CLOCKINGS_FILTER,
        fields=CLOCKING_FIELDS,
    ),
    PAID_PRESENCES.name: TrackedCollection(
        PAID_PRESENCES,
        tables.paid_presences,
        PAID_PRESENCE_COLUMNS,
        paid_presence_to_wire,
        PAID_PRESENCES_FILTER,
        fields=PAID_PRESENCE_FIELDS,
    ),
    ACTIVITY_DURATIONS.name: TrackedCollection(
        ACTIVITY_DURATIONS,
        tables.activity_durations,
        ACTIVITY_DURATION_COLUMNS,
        activity_duration_to_wire,
        ACTIVITY_DURATIONS_FILTER,
        fields=ACTIVITY_DURATION_FIELDS,
    ),
    CALCULATED_TOTALS.name: TrackedCollection(
        CALCULATED_TOTALS,
        tables.calculated_totals,
        CALCULATED_TOTAL_COLUMNS,
        calculated_total_to_wire,
        CALCULATED_TOTALS_FILTER,
        fields=CALCULATED_TOTAL_FIELDS,
    ),
    **{info.name: _reference(info) for info in REFERENCE_COLLECTIONS},
}
