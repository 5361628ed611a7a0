"""Seed 000: "The initial delta response is always paginated. You must walk through all
pages before a deltaLink appears." Both of its examples end with an empty last page.
Over real HTTP on both databases (issue 11, item 1).

Before, a snapshot that fitted in one page answered its deltaLink at once, and a client
that expected the vendor's nextLink on the first response broke here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

PATH = "/connector/protimeapi/api/v1/clockings"
PAGE_SIZE = 40


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("paging"))
    client = provision_with_cli(
        url, people=4, days=10, until="2026-01-20", scopes=("clockings.read",)
    )
    env = {"CHRONODELTA_TODAY": "2026-02-10", "CHRONODELTA_PAGE_SIZE": str(PAGE_SIZE)}
    with (
        ServerProcess(url, env=env) as server,
        httpx.Client(base_url=server.base_url, headers={"User-Agent": "Paging/1.0 (Acme)"}) as http,
    ):
        yield http, bearer(http, client)


def walk(http: httpx.Client, auth: dict[str, str], filter_text: str) -> list[dict[str, Any]]:
    """Every page of a new delta, in order, asserting seed 000's shape on the way."""
    response = http.get(PATH, params={"filter": filter_text, "delta": ""}, headers=auth)
    pages = [response.json()]
    assert response.status_code == 200, response.text
    assert set(pages[0]) == {"value", "nextLink"}  # the first response is never the last
    while "nextLink" in pages[-1]:
        assert "continuationToken=" in pages[-1]["nextLink"]
        assert "&deltaToken=" in pages[-1]["nextLink"]
        response = http.get(pages[-1]["nextLink"], headers=auth)
        assert response.status_code == 200, response.text
        pages.append(response.json())
    assert set(pages[-1]) == {"value", "deltaLink"}
    assert pages[-1]["value"] == []  # as both of seed 000's examples end
    return pages


def test_a_snapshot_that_fits_one_page_still_gets_a_next_link(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, auth = api
    pages = walk(http, auth, "date ge '2026-01-19'")
    assert len(pages) == 2
    assert 0 < len(pages[0]["value"]) < PAGE_SIZE


def test_an_empty_snapshot_gets_a_next_link_then_an_empty_delta_page(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, auth = api
    pages = walk(http, auth, "date ge '2026-02-01'")  # after every seeded clocking
    assert [page["value"] for page in pages] == [[], []]


def test_a_snapshot_of_several_pages_ends_with_an_empty_page(
    api: tuple[httpx.Client, dict[str, str]],
) -> None:
    http, auth = api
    pages = walk(http, auth, "date ge '2026-01-01'")
    sizes = [len(page["value"]) for page in pages]
    assert len(pages) >= 3 and sizes[-1] == 0 and all(sizes[:-1])
    ids = [record["id"] for page in pages for record in page["value"]]
    assert len(ids) == len(set(ids))  # each record once
    assert sorted(ids) == sorted(listed_ids(http, auth))  # the same records as the list


def listed_ids(http: httpx.Client, auth: dict[str, str]) -> list[int]:
    ids: list[int] = []
    url: str | None = PATH
    params: dict[str, str] | None = {"filter": "date ge '2026-01-01' and date le '2026-12-31'"}
    while url is not None:
        page = http.get(url, params=params, headers=auth).json()
        ids += [record["id"] for record in page["value"]]
        url, params = page.get("nextLink"), None
    return ids
