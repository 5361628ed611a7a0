"""A real ``chronodelta serve`` on a throwaway database (SQLite and PostgreSQL), with
tenant ``acme`` (seeded, one client with every scope) and tenant ``globex`` (empty).

``start_server(env)`` starts one with extra environment (the HTTP edge settings are
read from it by every worker); ``served`` is one with the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import Engine

from chronodelta.server import create_client, create_tenant, seed_tenant
from chronodelta.testing import ServerProcess
from tests.server.conftest import SEED_UNTIL, USER_AGENT
from tests.server.edges.raw import RawResponse


@dataclass(frozen=True)
class Served:
    server: ServerProcess
    http: httpx.Client  # base URL and User-Agent set; no token
    engine: Engine
    token: str  # acme's, every scope

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


StartServer = Callable[..., Served]


@pytest.fixture
def start_server(engine: Engine, database_url: str) -> Iterator[StartServer]:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=5, seed=1, until=SEED_UNTIL)
    create_tenant(engine, "globex")
    client = create_client(engine, "acme")
    with ExitStack() as stack:

        def start(env: Mapping[str, str] | None = None) -> Served:
            server = stack.enter_context(ServerProcess(database_url, env=env))
            http = stack.enter_context(
                httpx.Client(base_url=server.base_url, headers={"User-Agent": USER_AGENT})
            )
            response = http.post(
                "/tenants/acme/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                },
            )
            assert response.status_code == 200, response.text
            return Served(server, http, engine, response.json()["access_token"])

        yield start


@pytest.fixture
def served(start_server: StartServer) -> Served:
    return start_server()


def error_reasons(response: httpx.Response | RawResponse, status: int, code: str) -> list[str]:
    """The reasons of the contract's error body (``{"error": {"code", "message",
    "reasons"?}}``), after checking the status, the JSON media type and the code."""
    assert response.status_code == status, (response.status_code, response.text)
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), content_type
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code and isinstance(error["message"], str), body
    reasons: list[str] = error.get("reasons", [])
    return reasons
