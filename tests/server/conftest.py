"""An API harness: a migrated database with tenant ``acme``, demo data and a client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server import (
    ConnectorBackend,
    Settings,
    create_app,
    create_client,
    create_tenant,
    seed_tenant,
    tenant_id,
)
from chronodelta.server._services import Services

USER_AGENT = "chronodelta-tests/1.0 (chronodelta)"
SEED_UNTIL = dt.date(2026, 1, 20)


@dataclass
class Api:
    """A test client of the app, with helpers to get tokens."""

    http: TestClient
    engine: Engine
    tenant: str
    client_id: str
    client_secret: str
    _tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def token(self, *scopes: Scope) -> str:
        key = tuple(s.value for s in scopes)
        if key not in self._tokens:
            response = self.http.post(
                f"/tenants/{self.tenant}/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "scope": " ".join(key),
                },
            )
            assert response.status_code == 200, response.text
            self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    def forget_tokens(self) -> None:
        """Ask for new tokens from now on (after the tenant's clock moved past them)."""
        self._tokens.clear()

    def auth(self, *scopes: Scope) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*scopes)}"}

    @property
    def services(self) -> Services:
        found: Services = self.http.app.state.services  # type: ignore[attr-defined]
        return found

    @property
    def backend(self) -> ConnectorBackend:
        return self.services.backend

    @property
    def tenant_id(self) -> int:
        return tenant_id(self.engine, self.tenant)

    def other_client(self) -> dict[str, str]:
        """Auth headers of a second API client of the same tenant."""
        other = create_client(self.engine, self.tenant)
        response = self.http.post(
            f"/tenants/{self.tenant}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": other.client_id,
                "client_secret": other.client_secret,
            },
        )
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_api(
    engine: Engine,
    database_url: str,
    tenant: str = "acme",
    *,
    page_size: int = 25,
    **settings: Any,
) -> Iterator[Api]:
    """``settings``: other ``Settings`` fields of the app (say ``db_busy_timeout``)."""
    create_tenant(engine, tenant)
    seed_tenant(engine, tenant, people=6, days=10, seed=3, until=SEED_UNTIL)
    client = create_client(engine, tenant)
    app = create_app(Settings(database_url=database_url, page_size=page_size, **settings))
    with TestClient(app, headers={"User-Agent": USER_AGENT}) as http:
        yield Api(http, engine, tenant, client.client_id, client.client_secret)


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    yield from make_api(engine, database_url, page_size=25)
