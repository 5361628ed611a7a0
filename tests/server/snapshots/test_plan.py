"""The restore plan: the difference of two tenant states, a pure function."""

from __future__ import annotations

from chronodelta.server.snapshots._plan import plan_restore
from chronodelta.server.snapshots._state import STATE_TABLES, TableRows, TenantState, state_columns


def state(clockings: list[tuple[int, int]], counters: dict[str, int]) -> TenantState:
    """A state whose only rows are clockings (id, time of day); the rest empty."""
    found = {name: TableRows(state_columns(t), ()) for name, t in STATE_TABLES.items()}
    columns = state_columns(STATE_TABLES["clockings"])
    rows = []
    for key, minutes in clockings:
        values = dict.fromkeys(columns)
        values.update(id=key, time_of_day=minutes)
        rows.append(tuple(values[c] for c in columns))
    found["clockings"] = TableRows(columns, tuple(rows))
    return TenantState(found, counters)


def test_only_what_differs_is_planned() -> None:
    current = state([(1, 480), (2, 500), (4, 600)], {"clockings": 4, "people": 2})
    target = state([(1, 480), (2, 510), (3, 700)], {"clockings": 3})
    plan = plan_restore(current, target)
    (changes,) = plan.versioned
    position = changes.columns.index("id")
    assert [row[position] for row in changes.deleted] == [4]
    assert [(old[position], new[position]) for old, new in changes.updated] == [(2, 2)]
    assert [row[position] for row in changes.inserted] == [3]
    assert plan.changed_records == 3 and plan.replaced == ()
    # The target's counters; one it never had goes back to its highest id (none: 0).
    assert plan.counters == {"clockings": 3, "people": 0}


def test_equal_states_plan_nothing() -> None:
    same = state([(1, 480)], {"clockings": 1})
    plan = plan_restore(same, state([(1, 480)], {"clockings": 1}))
    assert plan.versioned == () and plan.replaced == () and plan.changed_records == 0
