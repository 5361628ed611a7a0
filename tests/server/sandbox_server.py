"""A running ``chronodelta serve`` with two workers, for the sandbox controls' tests
(issue 13: "on SQLite and PostgreSQL (2 workers)"): tenant ``acme`` with seeded data,
an API client of every scope, an operator for the ``/admin`` API, and helpers to call
it on fresh connections (so that calls spread over both workers) and to wait for the
request log, whose rows each worker writes in batches."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from chronodelta.client import Client
from chronodelta.server import (
    LoggedRequest,
    NewClient,
    RequestLogQuery,
    clear_fault_rules,
    create_client,
    create_tenant,
    query_request_log,
    seed_tenant,
    set_operator_password,
)
from chronodelta.storage import create_engine
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.server.conftest import SEED_UNTIL, USER_AGENT

TOKEN_PATH = "/tenants/acme/connect/token"
CLOCKINGS_PATH = "/connector/protimeapi/api/v1/clockings"
JANUARY = {"filter": "date ge '2026-01-01' and date le '2026-01-31'"}
SERVER_ENV = {
    "CHRONODELTA_TODAY": SEED_UNTIL.isoformat(),
    "CHRONODELTA_PAGE_SIZE": "25",
    "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
    "CHRONODELTA_TOKEN_FAILURES_PER_MINUTE": "100000",
}
LOG_DEADLINE_SECONDS = 30.0


@dataclass
class Sandbox:
    server: ServerProcess
    engine: Engine
    database_url: str
    operator: dict[str, str]  # the Authorization header of an operator

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def new_client(self) -> NewClient:
        """A fresh API client of acme: its calls are told apart from other tests' in the log."""
        return create_client(self.engine, "acme")

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"User-Agent": USER_AGENT}, timeout=60)

    def token(self, client: NewClient) -> str:
        with self.http() as http:
            response = request_token(http, client)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def sdk(self, client: NewClient, **options: Any) -> Client:
        return Client(
            self.base_url,
            "acme",
            client.client_id,
            client.client_secret,
            user_agent=USER_AGENT,
            **options,
        )

    def logged(
        self,
        client: NewClient,
        until: Callable[[list[LoggedRequest]], bool],
        **query: Any,
    ) -> list[LoggedRequest]:
        """``client``'s logged calls (oldest first) once ``until`` holds for them; the
        rows arrive within a flush interval, so this polls, up to a deadline."""
        deadline = time.monotonic() + LOG_DEADLINE_SECONDS
        wanted = RequestLogQuery(client=client.client_id, limit=1000, oldest_first=True, **query)
        while True:
            rows = query_request_log(self.engine, "acme", wanted)
            if until(rows):
                return rows
            if time.monotonic() > deadline:
                last = [(r.id, r.method, r.path, r.status) for r in rows[-5:]]
                pytest.fail(f"the log did not get there in time: {len(rows)} rows, last {last}")
            time.sleep(0.05)  # a poll's pause, not a synchronization


def request_token(http: httpx.Client, client: NewClient) -> httpx.Response:
    return http.post(
        TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def start_sandbox(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str, **env: str
) -> Iterator[Sandbox]:
    url = new_database_url(request, kind, tmp_path)
    engine = create_engine(url)
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=4, days=8, seed=3, until=SEED_UNTIL)
    operator = set_operator_password(engine, "ops")
    settings = {**SERVER_ENV, **env}
    try:
        with ServerProcess(url, args=["--workers", "2"], env=settings) as server:
            yield Sandbox(server, engine, url, basic("ops", operator.password))
    finally:
        engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """One server per module and database; each test clears acme's fault rules after it."""
    yield from start_sandbox(request, tmp_path_factory.mktemp("sandbox"), request.param)


@pytest.fixture
def clean(sandbox: Sandbox) -> Iterator[Sandbox]:
    yield sandbox
    clear_fault_rules(sandbox.engine, "acme")
