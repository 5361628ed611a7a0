"""Seed 000, "Track changes with delta", steps 1 to 4, over real HTTP.

The guide was written in December 2024 and starts its delta at 2024-12-01, which the
contract's rule allows only while "today" is in 2024 or 2025; the server's date for
that rule is pinned with CHRONODELTA_TODAY, so the guide runs exactly as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

PATH = "/connector/protimeapi/api/v1/clockings"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def guide(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    url = new_database_url(request, request.param, tmp_path)
    client = provision_with_cli(
        url,
        people=8,
        days=20,
        until="2024-12-20",
        scopes=("clockings.read", "clockings.write"),
    )
    env = {"CHRONODELTA_TODAY": "2024-12-20", "CHRONODELTA_PAGE_SIZE": "50"}
    with (
        ServerProcess(url, env=env) as server,
        httpx.Client(
            base_url=server.base_url, headers={"User-Agent": "DeltaGuide/1.0 (Acme)"}
        ) as http,
    ):
        yield http, {**bearer(http, client), "Host": "acme.myprotime.eu"}


def test_track_changes_with_delta(guide: tuple[httpx.Client, dict[str, str]]) -> None:
    http, auth = guide
    # Step 1: the list request plus &delta, with a date filter.
    first = http.get(f"{PATH}?filter=date ge '2024-12-01'&delta", headers=auth)
    assert first.status_code == 200
    page = first.json()
    assert set(page) == {"value", "nextLink"}  # the initial delta is always paged
    assert page["nextLink"].startswith(f"{PATH}?filter=date%20ge%20'2024-12-01'&continuationToken=")
    assert "&deltaToken=" in page["nextLink"]
    copy: dict[int, dict[str, Any]] = {r["id"]: r for r in page["value"]}
    # Step 2: every nextLink, until the page with a deltaLink instead.
    while "nextLink" in page:
        page = http.get(page["nextLink"], headers=auth).json()
        copy.update({r["id"]: r for r in page["value"]})
    assert set(page) == {"value", "deltaLink"}
    assert all(r["date"] >= "2024-12-01" for r in copy.values())
    link = page["deltaLink"]
    assert link.startswith("/connector/protimeapi/api/v1/delta/clockings?deltaToken=")
    http.get(link, headers=auth)  # past the overlap window's repeats of the seeding

    # Step 3: changes since the deltaLink: a new clocking and one that left the filter.
    created = http.post(
        PATH,
        headers=auth,
        json={
            "person": {"id": 2},
            "date": "2024-12-02",
            "timeOfDayInMinutes": 480,
            "kind": "InOut",
        },
    ).json()
    leaving = min(copy)
    moved = http.put(
        f"{PATH}/{leaving}",
        headers=auth,
        json={
            **{k: copy[leaving][k] for k in ("person", "date", "timeOfDayInMinutes", "kind")},
            "date": "2024-11-29",
        },
    ).json()
    response = http.get(link, headers=auth)
    assert response.status_code == 200
    step3 = response.json()
    assert set(step3) == {"value", "deltaLink"}  # not paged: one response, with a new link
    assert step3["value"][-2:] == [
        {"changeType": "InsertOrUpdate", "data": created},
        {"changeType": "Delete", "data": {"changeVersion": moved["changeVersion"], "id": leaving}},
    ]
    versions = [c["data"]["changeVersion"] for c in step3["value"]]
    assert versions == sorted(versions)

    # Step 4: keep the newest deltaLink and poll again: only what changed since.
    again = http.get(step3["deltaLink"], headers=auth).json()
    assert again["value"] == [] and again["deltaLink"] != step3["deltaLink"]
    updated = http.put(
        f"{PATH}/{created['id']}",
        headers=auth,
        json={
            "person": {"id": 2},
            "date": "2024-12-02",
            "timeOfDayInMinutes": 485,
            "kind": "InOut",
        },
    ).json()
    later = http.get(again["deltaLink"], headers=auth).json()
    assert later["value"] == [{"changeType": "InsertOrUpdate", "data": updated}]
