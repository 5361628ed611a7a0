"""The generic keyset page reader shared by lists and delta snapshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from chronodelta.domain import CLOCKINGS_FILTER, FilterCriteria, compile_filter
from chronodelta.server import create_tenant, seed_tenant
from chronodelta.server.records._tracked import TRACKED, _without_implied_lower_bound, read_page

CLOCKINGS = TRACKED["clockings"]
CRITERIA = compile_filter(
    "date ge '2026-01-12' and date le '2026-01-18'",
    CLOCKINGS_FILTER,
    mode="list",
    today=dt.date(2026, 6, 1),
)


def test_the_lower_bound_is_dropped_only_when_the_keyset_implies_it() -> None:
    behind = _without_implied_lower_bound(CLOCKINGS, CRITERIA, ("2026-01-13", 5))
    assert behind is not None and behind.date_from is None and behind.date_to == CRITERIA.date_to
    ahead = _without_implied_lower_bound(CLOCKINGS, CRITERIA, ("2026-01-01", 5))
    assert ahead == CRITERIA


def walk(engine: Engine, tenant_id: int, limit: int, max_version: int | None) -> list[Any]:
    seen: list[Any] = []
    after = None
    while True:
        with engine.connect() as connection:
            page = read_page(
                connection, CLOCKINGS, tenant_id, CRITERIA, after, limit, max_version=max_version
            )
        seen += [(r["date"], r["id"], r["changeVersion"]) for r in page.records]
        if page.next_key is None:
            return seen
        after = page.next_key


def test_any_page_size_reads_the_same_records_once_in_order(engine: Engine) -> None:
    tenant = create_tenant(engine, "acme").id
    seed_tenant(engine, "acme", people=5, days=14, seed=4, until=dt.date(2026, 1, 20))
    whole = walk(engine, tenant, 10_000, None)
    assert whole == sorted(whole) and len(whole) > 20
    assert all(dt.date(2026, 1, 12) <= date <= dt.date(2026, 1, 18) for date, _, _ in whole)
    for limit in (1, 7, 25):
        assert walk(engine, tenant, limit, None) == whole
    cut = sorted(v for _, _, v in whole)[len(whole) // 2]
    assert walk(engine, tenant, 7, int(cut, 16)) == [r for r in whole if r[2] <= cut]


KINDS = ["InOut", "Reason", "Activity", "ActivityEnd"]
DATES = st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 31))


@settings(max_examples=200)
@given(
    low=st.none() | DATES,
    high=st.none() | DATES,
    kinds=st.none() | st.frozensets(st.sampled_from(KINDS)),
    records=st.lists(st.fixed_dictionaries({"date": DATES, "kind": st.sampled_from(KINDS)})),
    name=st.sampled_from(["clockings", "paid-presences", "people"]),
)
def test_a_change_feed_selects_what_in_scope_accepts(
    low: dt.date | None,
    high: dt.date | None,
    kinds: frozenset[str] | None,
    records: list[dict[str, Any]],
    name: str,
) -> None:
    """Issue 14, item 2: the feed's chunk-wide selection is the per-record rule."""
    tracked = TRACKED[name]
    values = () if kinds is None else (("kind", frozenset[int | str](kinds)),)
    for criteria in (None, FilterCriteria(low, high, values)):
        expected = [r for r in records if tracked.in_scope(criteria, r["date"], r["kind"])]
        assert tracked.select_in_scope(criteria, records) == expected
