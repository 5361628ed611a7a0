"""A list's next page read ahead (issue 14, item 2; ``server/records/_read_ahead.py``),
on SQLite and PostgreSQL: served only while it is what a read at request time gives.

In-process (``api``), where the test can wait for the read-ahead to finish before it
changes anything (``settle``), so that the page is certainly built under the old state.
Over real HTTP with concurrent writers, see ``test_read_ahead_concurrency.py``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from chronodelta.domain import API_PREFIX, CLOCKINGS_FILTER, FilterCriteria, Scope, compile_filter
from chronodelta.server import place_in_org_group, reset_tenant
from chronodelta.server._tenant_now import TenantStamp
from chronodelta.server.records._read_ahead import (
    PageBody,
    PageKey,
    PageReadAhead,
    ReadAheadCounts,
)
from chronodelta.storage import read_transaction, tables
from tests.server.conftest import SEED_UNTIL, Api

CLOCKINGS = f"{API_PREFIX}/clockings"
FILTER = f"date ge '2026-01-01' and date le '{SEED_UNTIL.isoformat()}'"
WAIT = 30.0


def first_page(api: Api, filter_text: str = FILTER) -> dict[str, Any]:
    response = api.http.get(
        CLOCKINGS, params={"filter": filter_text}, headers=api.auth(Scope.CLOCKINGS_READ)
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert "nextLink" in page, "the test needs a list of several pages"
    return page


def rest_of_walk(api: Api, page: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of every page after ``page``, following nextLink."""
    records: list[dict[str, Any]] = []
    while "nextLink" in page:
        response = api.http.get(page["nextLink"], headers=api.auth(Scope.CLOCKINGS_READ))
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["value"]
        api.services.read_ahead.settle(WAIT)
    return records


def counts(api: Api) -> ReadAheadCounts:
    return api.services.read_ahead.counts


def test_a_walk_is_served_from_pages_read_ahead_and_equals_a_plain_one(api: Api) -> None:
    page = first_page(api)
    api.services.read_ahead.settle(WAIT)
    walked = page["value"] + rest_of_walk(api, page)
    pages = len(walked) // 25 + 1
    assert counts(api) == ReadAheadCounts(hits=pages - 1, stale=0, misses=1)

    api.services.read_ahead.enabled = False  # the same walk, every page read at request
    page = first_page(api)
    assert page["value"] + rest_of_walk(api, page) == walked


def test_a_clocking_written_between_two_pages_is_in_the_next(api: Api) -> None:
    """The next page was read before the write; served as read, it would miss it."""
    page = first_page(api)
    api.services.read_ahead.settle(WAIT)
    body = {
        "person": {"id": 1},
        "date": SEED_UNTIL.isoformat(),  # the filter's last day: it sorts after page 1
        "timeOfDayInMinutes": 1400,
        "kind": "InOut",
    }
    created = api.http.post(CLOCKINGS, json=body, headers=api.auth(Scope.CLOCKINGS_WRITE))
    assert created.status_code == 201, created.text

    rest = rest_of_walk(api, page)
    assert created.json()["id"] in {record["id"] for record in rest}
    assert counts(api).stale == 1


def test_an_org_group_change_between_two_pages_is_in_the_next(api: Api) -> None:
    """Membership writes take no change version; they raise the ``organisation``
    counter, which the read-ahead's stamp holds (contract, "Filters": a list reads the
    memberships as they are when it reads)."""
    group, outsider = _a_group_and_an_outsider(api)
    org_filter = f"{FILTER} and person in org-group({group})"
    page = first_page(api, org_filter)
    api.services.read_ahead.settle(WAIT)
    last = (page["value"][-1]["date"], page["value"][-1]["id"])

    place_in_org_group(api.engine, api.tenant, outsider, group)
    rest = rest_of_walk(api, page)
    assert outsider in {record["person"]["id"] for record in rest}
    assert counts(api).stale == 1

    fresh = first_page(api, org_filter)
    expected = [r for r in fresh["value"] + rest_of_walk(api, fresh) if (r["date"], r["id"]) > last]
    assert rest == expected


def _a_group_and_an_outsider(api: Api) -> tuple[int, int]:
    members = tables.org_group_members
    with read_transaction(api.engine) as connection:
        rows = connection.execute(
            sa.select(members.c.org_group_id, members.c.person_id).where(
                members.c.tenant_id == api.tenant_id
            )
        ).all()
    group = max({g for g, _ in rows}, key=lambda g: sum(1 for gg, _ in rows if gg == g))
    inside = {p for g, p in rows if g == group}
    people = {1, 2, 3, 4, 5, 6}
    return int(group), min(people - inside)


def test_a_page_read_ahead_of_another_tenant_state_is_not_served_after_a_reset(
    api: Api,
) -> None:
    """A reset raises the restore count: the walk answers 409 as without read-ahead."""
    page = first_page(api)
    api.services.read_ahead.settle(WAIT)
    reset_tenant(api.engine, api.tenant)
    response = api.http.get(page["nextLink"], headers=api.auth(Scope.CLOCKINGS_READ))
    assert response.status_code == 409, response.text


def test_a_tenant_being_written_is_read_ahead_less_and_again_once_quiet() -> None:
    """Pages that go stale are work thrown away: after each, more of the tenant's next
    pages are read at request time instead (1, 2, 4, 4, ...); a page served resets it."""
    read_ahead = PageReadAhead()
    old, new = TenantStamp(1, 0, 0), TenantStamp(2, 0, 0)
    built: list[int] = []

    def offer(page: int, stamp: TenantStamp) -> None:
        def build() -> PageBody:
            built.append(page)
            return PageBody(stamp, b"{}", None)

        read_ahead.read_ahead(_key(page), build)
        read_ahead.settle(WAIT)

    def outcome(page: int, now: TenantStamp) -> bool:
        return read_ahead.take(_key(page), now, wait=WAIT) is not None

    offer(1, old)
    assert not outcome(1, new)  # stale: the next one is skipped
    offer(2, new)
    assert built == [1]
    offer(3, old)
    assert not outcome(3, new)  # stale again: the next two are skipped
    for page in (4, 5, 6):
        offer(page, new)
    assert built == [1, 3, 6]
    assert outcome(6, new)  # served: no more skipping
    offer(7, new)
    assert built == [1, 3, 6, 7]
    assert read_ahead.counts == ReadAheadCounts(hits=1, stale=2, misses=0)
    read_ahead.close()


def _key(page: int) -> PageKey:
    return PageKey(1, "clockings", FILTER, (page,), 25, None)


def snapshot_walk(api: Api) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A delta's first page (it starts the delta) and the one after it."""
    response = api.http.get(
        CLOCKINGS, params={"filter": FILTER, "delta": ""}, headers=api.auth(Scope.CLOCKINGS_READ)
    )
    assert response.status_code == 200, response.text
    first: dict[str, Any] = response.json()
    return first["value"], first


def rest_of_snapshot(api: Api, page: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while "nextLink" in page:
        response = api.http.get(page["nextLink"], headers=api.auth(Scope.CLOCKINGS_READ))
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["value"]
        api.services.read_ahead.settle(WAIT)
    assert "deltaLink" in page
    return records


def test_a_delta_snapshot_is_read_ahead_and_equals_a_plain_one(api: Api) -> None:
    records, first = snapshot_walk(api)
    api.services.read_ahead.settle(WAIT)
    walked = records + rest_of_snapshot(api, first)
    assert counts(api).hits >= len(walked) // 25 - 1

    api.services.read_ahead.enabled = False
    records, first = snapshot_walk(api)
    assert records + rest_of_snapshot(api, first) == walked


def test_a_record_changed_after_a_delta_began_is_not_in_a_snapshot_page_read_ahead(
    api: Api,
) -> None:
    """Seed 000: the snapshot is the state at the delta's start; a record changed after
    it comes in the changes. Page 2 was read ahead before the change."""
    records, first = snapshot_walk(api)
    api.services.read_ahead.settle(WAIT)
    plain = api.services.backend.list_clockings(
        api.tenant_id,
        _criteria(),
        (records[-1]["date"], records[-1]["id"]),
        25,
    )
    moved = plain.records[0]  # the first record of page 2
    body = {
        "person": {"id": moved["person"]["id"]},
        "date": moved["date"].isoformat(),
        "timeOfDayInMinutes": (moved["timeOfDayInMinutes"] + 1) % 1440,
        "kind": moved["kind"],
    }
    target = f"{CLOCKINGS}/{moved['id']}"
    updated = api.http.put(target, json=body, headers=api.auth(Scope.CLOCKINGS_WRITE))
    assert updated.status_code == 200, updated.text

    rest = rest_of_snapshot(api, first)
    assert moved["id"] not in {record["id"] for record in rest}
    assert counts(api).stale == 1


def _criteria() -> FilterCriteria:
    return compile_filter(FILTER, CLOCKINGS_FILTER, mode="list", today=SEED_UNTIL)
