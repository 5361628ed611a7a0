"""Which delta changes apply: the changeVersion rule of seed 000, Deletes, tombstones."""

from __future__ import annotations

from typing import Any

from chronodelta.client import Change
from chronodelta.sync import plan_changes


def v(n: int) -> str:
    return f"{n:020X}"


def upsert(record_id: int, version: int) -> Change[Any]:
    record = {"id": record_id, "changeVersion": v(version)}
    return Change("InsertOrUpdate", record_id, v(version), record, record)


def delete(record_id: int, version: int) -> Change[Any]:
    return Change("Delete", record_id, v(version), None, {"id": record_id})


def test_newer_versions_apply_and_older_or_equal_ones_are_ignored() -> None:
    rows = {1: v(10), 2: v(10), 3: v(10)}
    plan = plan_changes([upsert(1, 11), upsert(2, 10), upsert(3, 9), upsert(4, 1)], rows, {})
    assert [r["id"] for r in plan.upserts] == [1, 4]
    assert plan.deletes == () and plan.ignored == 2 and plan.applied == 2


def test_versions_compare_as_strings_of_twenty_hex_digits() -> None:
    plan = plan_changes([upsert(1, 0xA0)], {1: v(0x9F)}, {})
    assert len(plan.upserts) == 1  # "...A0" > "...9F", as numbers


def test_a_delete_removes_a_row_unless_it_is_older_than_the_row() -> None:
    rows = {1: v(10), 2: v(10), 3: v(10)}
    plan = plan_changes([delete(1, 11), delete(2, 10), delete(3, 9)], rows, {})
    assert plan.deletes == ((1, v(11)), (2, v(10)))
    assert plan.ignored == 1


def test_a_deleted_record_does_not_come_back_with_an_older_version() -> None:
    plan = plan_changes([upsert(5, 7), upsert(6, 9)], {}, {5: v(8), 6: v(8)})
    assert [r["id"] for r in plan.upserts] == [6]
    # A Delete of a record the mirror does not hold keeps the newest tombstone only.
    plan = plan_changes([delete(5, 7), delete(6, 9), delete(7, 1)], {}, {5: v(8), 6: v(8)})
    assert plan.deletes == ((6, v(9)), (7, v(1)))


def test_the_newest_of_repeated_ids_wins_whatever_the_order() -> None:
    plan = plan_changes([upsert(1, 12), delete(1, 11)], {1: v(10)}, {})
    assert [r["changeVersion"] for r in plan.upserts] == [v(12)] and plan.deletes == ()
    plan = plan_changes([upsert(1, 11), delete(1, 12)], {1: v(10)}, {})
    assert plan.upserts == () and plan.deletes == ((1, v(12)),)
    assert plan.ignored == 1
