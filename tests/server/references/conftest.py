"""One real server per database for the reference-collection tests, over real HTTP.

The tests of this folder that use ``live`` only read, or write custom references
under names no other test uses, so one seeded server per module and database serves
them all (a server start costs seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chronodelta.domain import API_PREFIX
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

TODAY = "2026-01-20"


@dataclass
class Live:
    """A running server with tenant acme (20 people) and an all-scopes token."""

    http: httpx.Client
    auth: dict[str, str]
    server: ServerProcess

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(f"{API_PREFIX}/{path}", params=params, headers=self.auth)

    def ok(self, path: str, **params: str) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def every(self, path: str, **params: str) -> list[Any]:
        """Every record of a list, following nextLink."""
        page = self.ok(path, **params)
        records = list(page["value"])
        while "nextLink" in page:
            response = self.http.get(page["nextLink"], headers=self.auth)
            assert response.status_code == 200, response.text
            page = response.json()
            records += page["value"]
        return records


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("references"))
    client = provision_with_cli(url, people=20, days=5, until=TODAY)
    env = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "7"}
    with (
        ServerProcess(url, env=env) as server,
        httpx.Client(
            base_url=server.base_url, headers={"User-Agent": "References/1.0 (Acme)"}
        ) as http,
    ):
        yield Live(http, bearer(http, client), server)
