"""One running ``chronodelta serve`` with two workers per database (SQLite and
PostgreSQL), shared by this package's tests; each test gets a tenant of its own (a
clock is per tenant), with a little data, an API client, and an operator
(issue 13, item 1).

Every check asks ``SPREAD`` times on fresh connections, so that both workers answer:
what a clock change must reach is every worker, at once (no refresh interval here).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from chronodelta.server import create_client, create_tenant, seed_tenant, set_operator_password
from chronodelta.storage import create_engine
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.server.conftest import USER_AGENT

API = "/connector/protimeapi/api/v1"
CLOCKINGS = f"{API}/clockings"
SPREAD = 12
HOURS = dt.timedelta(hours=1)
_names = itertools.count(1)


def this_year() -> str:
    """A delta filter start the rules accept today and for a while (Jan 1st)."""
    return f"date ge '{dt.date.today().year}-01-01'"


@dataclass
class Served:
    server: ServerProcess
    engine: Engine
    operator: dict[str, str]  # the HTTP Basic header of an operator


@dataclass
class Sandbox:
    server: ServerProcess
    engine: Engine
    tenant: str
    client_id: str
    client_secret: str
    operator: dict[str, str]

    def http(self) -> httpx.Client:
        """A new connection (so that each request may reach either worker)."""
        return httpx.Client(
            base_url=self.server.base_url, headers={"User-Agent": USER_AGENT}, timeout=60.0
        )

    def token(self, client_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        with self.http() as http:
            response = http.post(
                f"/tenants/{self.tenant}/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id or self.client_id,
                    "client_secret": secret or self.client_secret,
                },
            )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def statuses(
        self, url: str, headers: dict[str, str], params: dict[str, str] | None = None
    ) -> set[int]:
        """The statuses of ``SPREAD`` GETs, each on a fresh connection."""
        found = set()
        for _ in range(SPREAD):
            with self.http() as http:
                found.add(http.get(url, params=params, headers=headers).status_code)
        return found

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.http() as http:
            return http.request(method, f"/admin{path}", headers=self.operator, **kwargs)


def start_delta(sandbox: Sandbox, headers: dict[str, str], path: str = CLOCKINGS) -> str:
    """A new delta's deltaLink (seed 000: every snapshot page walked)."""
    params: dict[str, str] | None = {"filter": this_year(), "delta": ""}
    if path != CLOCKINGS:
        params = {"delta": ""}
    url = path
    with sandbox.http() as http:
        while True:
            response = http.get(url, params=params, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            if "deltaLink" in page:
                link: str = page["deltaLink"]
                return link
            url, params = page["nextLink"], None


@pytest.fixture(
    scope="package", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("clock"))
    engine = create_engine(url)
    operator = set_operator_password(engine, "ops")
    basic = base64.b64encode(f"ops:{operator.password}".encode()).decode()
    env = {"CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000"}
    try:
        with ServerProcess(url, args=["--workers", "2"], env=env) as server:
            yield Served(server, engine, {"Authorization": f"Basic {basic}"})
    finally:
        engine.dispose()


@pytest.fixture
def sandbox(served: Served) -> Sandbox:
    return new_sandbox(served)


def new_sandbox(served: Served) -> Sandbox:
    """A new tenant on the shared server."""
    tenant = f"t{next(_names)}"
    create_tenant(served.engine, tenant)
    seed_tenant(served.engine, tenant, people=3, days=2, seed=5, until=dt.date.today())
    client = create_client(served.engine, tenant)
    return Sandbox(
        served.server,
        served.engine,
        tenant,
        client.client_id,
        client.client_secret,
        served.operator,
    )
