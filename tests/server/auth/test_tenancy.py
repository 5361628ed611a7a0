"""Tenants are isolated: same ids, different data, and no way across."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server import Settings, create_app, create_client, create_tenant, seed_tenant
from tests.server.conftest import SEED_UNTIL, USER_AGENT

PATH = "/connector/protimeapi/api/v1/clockings"
JANUARY = {"filter": "date ge '2026-01-01' and date le '2026-01-31'"}


def token(http: TestClient, tenant: str, client_id: str, secret: str) -> dict[str, str]:
    response = http.post(
        f"/tenants/{tenant}/connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def two_tenants(engine: Engine, database_url: str) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    headers = {}
    for name, seed in (("acme", 1), ("globex", 2)):
        create_tenant(engine, name)
        seed_tenant(engine, name, people=3, days=5, seed=seed, until=SEED_UNTIL)
    with TestClient(
        create_app(Settings(database_url=database_url)), headers={"User-Agent": USER_AGENT}
    ) as http:
        for name in ("acme", "globex"):
            client = create_client(engine, name, [Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE])
            headers[name] = token(http, name, client.client_id, client.client_secret)
        yield http, headers


def listing(http: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = http.get(PATH, params=JANUARY, headers=headers)
    assert response.status_code == 200
    records: list[dict[str, Any]] = response.json()["value"]
    return records


def test_each_tenant_sees_only_its_own_clockings(
    two_tenants: tuple[TestClient, dict[str, Any]],
) -> None:
    http, headers = two_tenants
    acme, globex = listing(http, headers["acme"]), listing(http, headers["globex"])
    assert acme and globex
    # Ids are per tenant, so both have a clocking 1, with different contents.
    assert acme[0]["id"] == globex[0]["id"] == 1 or {r["id"] for r in acme} & {
        r["id"] for r in globex
    }
    assert acme != globex


def test_a_clocking_only_one_tenant_has_is_404_for_the_other(
    two_tenants: tuple[TestClient, dict[str, Any]],
) -> None:
    http, headers = two_tenants
    body = {"person": {"id": 1}, "date": "2026-01-15", "timeOfDayInMinutes": 510, "kind": "InOut"}
    for _ in range(3):  # push acme's ids past globex's
        created = http.post(PATH, json=body, headers=headers["acme"]).json()
    highest_globex = max(r["id"] for r in listing(http, headers["globex"]))
    assert created["id"] > highest_globex
    url = f"{PATH}/{created['id']}"
    assert http.get(url, headers=headers["globex"]).status_code == 404
    assert http.put(url, json=body, headers=headers["globex"]).status_code == 404
    assert http.delete(url, headers=headers["globex"]).status_code == 404
    assert http.get(url, headers=headers["acme"]).json()["status"] == "Active"


def test_a_tenant_host_refuses_another_tenants_token(
    two_tenants: tuple[TestClient, dict[str, Any]],
) -> None:
    http, headers = two_tenants
    acme_host = {**headers["globex"], "Host": "acme.myprotime.eu"}
    response = http.get(PATH, params=JANUARY, headers=acme_host)
    assert response.status_code == 401
    own_host = {**headers["globex"], "Host": "globex.myprotime.eu"}
    assert http.get(PATH, params=JANUARY, headers=own_host).status_code == 200
