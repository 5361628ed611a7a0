"""A running ``chronodelta serve`` with tenant ``acme`` (seeded), an API client and an
operator, and an HTTP helper that uses the console as a browser does: it logs in
through the form, keeps the session cookie and sends each form's CSRF token.

The server is shared by a module's tests, one per database: SQLite with one worker,
PostgreSQL with two (issue 13, "Must hold": "on SQLite and PostgreSQL (2 workers)").
Tests that write pick their own person or date, so they do not see each other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from chronodelta.server import (
    NewClient,
    NewOperatorPassword,
    create_client,
    create_tenant,
    seed_tenant,
    set_operator_password,
)
from chronodelta.storage import create_engine, is_postgresql
from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.server.conftest import SEED_UNTIL, USER_AGENT

API = "/connector/protimeapi/api/v1"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]*)"')
# The seeded days are the 10 days up to SEED_UNTIL (tests/server/conftest.py).
SEEDED_FROM = SEED_UNTIL - dt.timedelta(days=9)


@dataclass
class Sandbox:
    server: ServerProcess
    engine: Engine
    client: NewClient
    operator: NewOperatorPassword

    def api(self) -> httpx.Client:
        """An API caller with a token of every scope the client has."""
        token = httpx.post(
            f"{self.server.base_url}/tenants/acme/connect/token",
            headers={"User-Agent": USER_AGENT},
            data={
                "grant_type": "client_credentials",
                "client_id": self.client.client_id,
                "client_secret": self.client.client_secret,
            },
            timeout=60,
        )
        assert token.status_code == 200, token.text
        headers = {
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token.json()['access_token']}",
        }
        return httpx.Client(base_url=self.server.base_url, headers=headers, timeout=60)

    def console(self, *, logged_in: bool = True) -> Console:
        browser = Console(self.server.base_url)
        if logged_in:
            browser.log_in(self.operator.name, self.operator.password)
        return browser


class Console:
    """The console as a browser uses it: cookies kept, redirects shown, forms with CSRF."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)

    def log_in(self, name: str, password: str) -> httpx.Response:
        page = self.get("/console/login")
        assert page.status_code == 200, page.text
        response = self.http.post(
            "/console/login",
            data={"name": name, "password": password, "csrf": csrf_of(page.text)},
        )
        if response.status_code == 303:
            assert response.headers["location"] == "/console"
        return response

    def get(self, path: str, /, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def submit(self, page_path: str, target: str, /, **fields: Any) -> httpx.Response:
        """Post ``fields`` to ``target`` with the CSRF token of the page at ``page_path``."""
        page = self.get(page_path)
        assert page.status_code == 200, page.text
        return self.http.post(target, data={"csrf": csrf_of(page.text), **fields})

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text
        return self.get(response.headers["location"])

    def close(self) -> None:
        self.http.close()


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, f"no CSRF field in the page:\n{html[:2000]}"
    return found.group(1)


def start_sandbox(url: str, *, args: tuple[str, ...] = (), **env: str) -> Iterator[Sandbox]:
    engine = create_engine(url)
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=6, days=10, seed=3, until=SEED_UNTIL)
    client = create_client(engine, "acme")
    operator = set_operator_password(engine, "ops")
    workers = "2" if is_postgresql(engine) else "1"
    settings = {
        "CHRONODELTA_REVOCATION_REFRESH_SECONDS": "0",
        "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
        "CHRONODELTA_WEBHOOK_DELIVERY": "false",  # the webhooks page needs no receiver
        **env,
    }
    try:
        with ServerProcess(url, args=["--workers", workers, *args], env=settings) as server:
            yield Sandbox(server, engine, client, operator)
    finally:
        engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    url = new_database_url(request, request.param, tmp_path_factory.mktemp("console"))
    yield from start_sandbox(url)


@pytest.fixture
def console(sandbox: Sandbox) -> Iterator[Console]:
    browser = sandbox.console()
    yield browser
    browser.close()


def sqlite_url(request: pytest.FixtureRequest, directory: Path) -> str:
    return new_database_url(request, "sqlite", directory)
