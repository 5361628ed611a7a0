"""Lists as the vendor's pages describe them, over real HTTP on SQLite and PostgreSQL
(issue 11, items 3, 5 and 8; contract, "Fidelity"):

* "Lists": a start date alone lists one year (the real-time sync tutorial lists with
  ``filter=date ge '2026-01-01'``); a range over a year is still a 400, and deltas keep
  the seeds' rules (seed 001: "The end date isn't required").
* "Filters": ``person in circle(2, 8)``, ``person in org-group(121, 122)``,
  ``org-tree(...)`` (sub-groups included), with or without a space before ``(``, on
  every collection that takes ``person``; unknown ids select nobody; never in a delta
  (seeds 001-003: "People cannot be used in the delta").
* "Paging": an invalid continuation token answers 409 "Continuation token conflict".

The server's "today" is pinned so that the delta rules hold whenever the suite runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronodelta.demo import generate_organisation, generate_reference_data
from chronodelta.domain import API_PREFIX, REFERENCE_COLLECTIONS, Organisation
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

TODAY = "2026-01-20"
PEOPLE, DAYS, SEED = 20, 40, 1  # the CLI's default seed
CLOCKINGS = f"{API_PREFIX}/clockings"
DATED = ("clockings", "paid-presences", "activity-durations")


@dataclass
class Served:
    http: httpx.Client
    auth: dict[str, str]
    organisation: Organisation

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params or None, headers=self.auth)

    def walk(self, path: str, filter_text: str, **params: str) -> list[dict[str, Any]]:
        """Every record of a list (or a delta's snapshot), following nextLink."""
        response = self.get(path, filter=filter_text, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        records = list(page["value"])
        while "nextLink" in page:
            page = self.get(page["nextLink"]).json()
            records += page["value"]
        return records


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory: Path = tmp_path_factory.mktemp("lists")
    url = new_database_url(request, request.param, directory)
    client = provision_with_cli(url, people=PEOPLE, days=DAYS, until=TODAY)
    reference = generate_reference_data(
        people=PEOPLE, seed=SEED, today=dt.date.fromisoformat(TODAY)
    )
    organisation = generate_organisation(reference.people, seed=SEED)
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "40"}
    with (
        ServerProcess(url, env=env) as process,
        httpx.Client(base_url=process.base_url, headers={"User-Agent": "Lists/1.0 (Acme)"}) as http,
    ):
        yield Served(http, bearer(http, client), organisation)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


# ---- item 3: a start alone lists one year ---------------------------------------------


@pytest.mark.parametrize("collection", DATED)
def test_a_list_with_a_start_alone_lists_the_year_from_it(served: Served, collection: str) -> None:
    """Contract, "Fidelity", "Lists": the tutorial's ``date ge '...'`` with no end."""
    path = f"{API_PREFIX}/{collection}"
    # The data runs from 2025-12-12 to 2026-01-20: a year from 2025-01-15 ends 2026-01-14.
    open_ended = served.walk(path, "date ge '2025-01-15'")
    explicit = served.walk(path, "date ge '2025-01-15' and date le '2026-01-14'")
    assert open_ended == explicit and open_ended
    assert max(r["date"] for r in open_ended) <= "2026-01-14"
    later = served.walk(path, "date ge '2026-01-15'")
    assert later and min(r["date"] for r in later) >= "2026-01-15"
    # A delta's end stays open (seed 001: "The end date isn't required"): it has both.
    snapshot = served.walk(path, "date ge '2025-01-15'", delta="")
    assert {r["id"] for r in snapshot} == {r["id"] for r in open_ended + later}


@pytest.mark.parametrize(
    ("filter_text", "delta", "reason"),
    [
        ("date ge '2025-01-15' and date le '2026-01-15'", False, "longer than one year"),
        ("date le '2026-01-15'", False, "needs a start date"),
        ("date ge '2025-01-15' and date le '2026-01-15'", True, "longer than one year"),
        ("date ge '2024-12-31'", True, "too early"),  # seed 001: "January 1st of the previous year"
        ("date ge '2026-01-21'", True, "in the future"),
    ],
)
def test_ranges_over_a_year_and_the_delta_rules_still_refuse(
    served: Served, filter_text: str, delta: bool, reason: str
) -> None:
    params = {"delta": ""} if delta else {}
    error = error_of(served.get(CLOCKINGS, filter=filter_text, **params), 400, "BadRequest")
    assert any(reason in r for r in error["reasons"]), error


# ---- item 5: circles, org groups, org trees -------------------------------------------


def members(organisation: Organisation, qualifier: str, ids: set[int]) -> set[int]:
    """Who ``person in qualifier(ids)`` selects, read from the demo data itself."""
    if qualifier == "circle":
        return {p for c in organisation.circles if c.id in ids for p in c.member_ids}
    parents = {g.id: g.parent_id for g in organisation.org_groups}

    def named(group: int | None) -> bool:
        while group is not None:
            if group in ids:
                return True
            group = parents[group] if qualifier == "org-tree" else None
        return False

    return {person for person, group in organisation.org_group_members if named(group)}


JANUARY = "date ge '2026-01-01' and date le '2026-01-20'"


@pytest.mark.parametrize("collection", DATED)
@pytest.mark.parametrize(
    ("person_filter", "expected"),
    [
        ("person in circle(2, 4)", lambda o: members(o, "circle", {2, 4})),
        ("person in circle (2,4)", lambda o: members(o, "circle", {2, 4})),  # the how-to's space
        ("person in org-group(2, 9)", lambda o: members(o, "org-group", {2, 9})),
        ("person in org-tree(2)", lambda o: members(o, "org-tree", {2})),
        ("person in org-tree (3, 2)", lambda o: members(o, "org-tree", {2, 3})),
        ("person in org-tree(99)", lambda o: set()),  # unknown ids select nobody
        ("person in circle(99)", lambda o: set()),
        (
            "(person eq 1 or person in circle(1) or person in org-group(3))",
            lambda o: {1} | members(o, "circle", {1}) | members(o, "org-group", {3}),
        ),
        (
            "person in org-tree(3) and person in circle(4)",
            lambda o: members(o, "org-tree", {3}) & members(o, "circle", {4}),
        ),
        (
            "person in (1, 2, 3, 4, 5) and person in org-tree(2)",
            lambda o: {1, 2, 3, 4, 5} & members(o, "org-tree", {2}),
        ),
    ],
)
def test_person_filters_select_circles_org_groups_and_org_trees(
    served: Served, collection: str, person_filter: str, expected: Any
) -> None:
    """Contract, "Fidelity", "Filters": ``person in circle(2, 8)``,
    ``person in org-group(121, 122)``, ``org-tree(...)`` with its sub-groups."""
    path = f"{API_PREFIX}/{collection}"
    everything = served.walk(path, JANUARY)
    wanted: set[int] = expected(served.organisation)
    got = served.walk(path, f"{JANUARY} and {person_filter}")
    assert got == [r for r in everything if r["person"]["id"] in wanted]


def test_org_tree_takes_the_sub_groups_and_org_group_only_the_group(served: Served) -> None:
    org_group = {
        r["person"]["id"] for r in served.walk(CLOCKINGS, f"{JANUARY} and person in org-group(2)")
    }
    org_tree = {
        r["person"]["id"] for r in served.walk(CLOCKINGS, f"{JANUARY} and person in org-tree(2)")
    }
    assert org_group == {2} and org_group < org_tree  # the demo's person 2 supervises Operations
    everyone = {r["person"]["id"] for r in served.walk(CLOCKINGS, JANUARY)}
    assert {
        r["person"]["id"] for r in served.walk(CLOCKINGS, f"{JANUARY} and person in org-tree(1)")
    } == everyone


def test_a_named_filter_pages_with_its_next_links(served: Served) -> None:
    """More than one page: every nextLink carries the named list and stays in it."""
    text = f"{JANUARY} and person in org-tree(2)"
    first = served.get(CLOCKINGS, filter=text).json()
    assert "org-tree(2)" in first["nextLink"]
    records = served.walk(CLOCKINGS, text)
    assert len(records) > 40
    keys = [(r["date"], r["id"]) for r in records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


@pytest.mark.parametrize("collection", DATED)
@pytest.mark.parametrize(
    "person_filter",
    ["person in org-tree(2)", "person in circle(1)", "(person in org-group(3) or person eq 1)"],
)
def test_named_person_filters_cannot_start_a_delta(
    served: Served, collection: str, person_filter: str
) -> None:
    """Seeds 001-003: "People cannot be used in the delta", named lists included."""
    response = served.get(
        f"{API_PREFIX}/{collection}", filter=f"date ge '2026-01-01' and {person_filter}", delta=""
    )
    error = error_of(response, 400, "BadRequest")
    assert "'person' cannot be used in a delta filter" in error["reasons"]


@pytest.mark.parametrize(
    ("person_filter", "reason"),
    [
        ("person in team(1)", "List qualifier 'team' is not supported for field 'person'"),
        ("person in circle('x')", "'circle' takes whole numbers (ids), found 'x'"),
        ("person in org-tree", "a named list needs '(' after its name"),
        ("kind in org-group(1)", "List qualifier 'org-group' is not supported for field 'kind'"),
    ],
)
def test_bad_named_lists_are_400_with_a_reason(
    served: Served, person_filter: str, reason: str
) -> None:
    error = error_of(
        served.get(CLOCKINGS, filter=f"{JANUARY} and {person_filter}"), 400, "BadRequest"
    )
    assert any(reason in r for r in error["reasons"]), error


# ---- item 8: continuation token conflict ----------------------------------------------


def next_link(served: Served, path: str, **params: str) -> str:
    page = served.get(path, **params).json()
    link: str = page["nextLink"]
    return link


def altered(link: str) -> str:
    """The link with one character of its continuationToken's payload changed."""
    head, token = link.split("continuationToken=")
    rest = ""
    if "&" in token:
        token, rest = token.split("&", 1)
        rest = "&" + rest
    return f"{head}continuationToken={'B' if token[0] == 'A' else 'A'}{token[1:]}{rest}"


def assert_conflict(response: httpx.Response) -> None:
    """Contract, "Fidelity", "Paging": 409 "Continuation token conflict", API format."""
    error = error_of(response, 409, "Conflict")
    assert error["message"] == "Continuation token conflict"
    assert error["reasons"] and response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("collection", [*DATED, *(c.name for c in REFERENCE_COLLECTIONS)])
def test_an_invalid_continuation_token_is_a_409_on_every_list(
    served: Served, collection: str
) -> None:
    path = f"{API_PREFIX}/{collection}"
    whole_data = "date ge '2025-12-01'"  # a year from then: every record, several pages
    params = {"filter": whole_data} if collection in DATED else {}
    assert_conflict(served.get(path, continuationToken="not-a-token", **params))
    clockings_link = next_link(served, CLOCKINGS, filter=whole_data)
    token = clockings_link.split("continuationToken=")[1]
    if collection != "clockings":  # a real token, of another collection
        assert_conflict(served.get(path, continuationToken=token, **params))
    if collection in DATED:  # the reference lists fit one page here
        link = next_link(served, path, **params)
        assert served.get(link).status_code == 200
        assert_conflict(served.get(altered(link)))


def test_a_token_of_another_filter_or_collection_is_a_409(served: Served) -> None:
    link = next_link(served, CLOCKINGS, filter=JANUARY)
    token = link.split("continuationToken=")[1]
    other_filter = served.get(
        CLOCKINGS, filter="date ge '2026-01-02' and date le '2026-01-20'", continuationToken=token
    )
    assert_conflict(other_filter)
    assert "another filter" in other_filter.json()["error"]["reasons"][0]
    assert_conflict(
        served.get(f"{API_PREFIX}/paid-presences", filter=JANUARY, continuationToken=token)
    )


def test_an_invalid_continuation_token_of_a_delta_snapshot_is_a_409(served: Served) -> None:
    link = next_link(served, CLOCKINGS, filter="date ge '2026-01-01'", delta="")
    assert "deltaToken=" in link
    assert_conflict(served.get(altered(link)))
    assert served.get(link).status_code == 200  # the delta itself is untouched
