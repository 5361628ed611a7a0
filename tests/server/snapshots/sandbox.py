"""A running server with tenant ``acme`` and its twin ``fresh`` (seeded alike), an API
client of each and an operator, for the reset and snapshot tests (issue 13, item 4)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from chronodelta.server import (
    NewClient,
    create_client,
    create_tenant,
    seed_tenant,
    set_operator_password,
)
from chronodelta.storage import is_postgresql
from chronodelta.testing import ServerProcess

API = "/connector/protimeapi/api/v1"
USER_AGENT = "chronodelta-tests/1.0 (chronodelta)"
SEED = {"people": 4, "days": 6, "seed": 5, "until": dt.date(2026, 1, 20)}
WINDOW = "date ge '2025-12-01' and date le '2026-02-28'"
DATED = ["clockings", "paid-presences", "activity-durations", "calculated-totals"]
REFERENCES = [
    "people",
    "terminals",
    "activity-definitions",
    "absence-definitions",
    "counter-definitions",
    "shift-definitions",
]


@dataclass(frozen=True)
class Sandbox:
    engine: Engine
    database_url: str
    acme: NewClient
    fresh: NewClient
    operator: dict[str, str]  # HTTP Basic headers of an operator

    @property
    def workers(self) -> int:
        """Two on PostgreSQL (issue 13, "Must hold": "PostgreSQL (2 workers)")."""
        return 2 if is_postgresql(self.engine) else 1

    def server(self, env: dict[str, str] | None = None) -> ServerProcess:
        args = ["--workers", str(self.workers)]
        return ServerProcess(self.database_url, args=args, env=env or {})


def provision(engine: Engine, database_url: str) -> Sandbox:
    for name in ("acme", "fresh"):
        create_tenant(engine, name)
        seed_tenant(engine, name, **SEED)  # type: ignore[arg-type]
    password = set_operator_password(engine, "ops").password
    basic = base64.b64encode(f"ops:{password}".encode()).decode()
    acme, fresh = create_client(engine, "acme"), create_client(engine, "fresh")
    return Sandbox(engine, database_url, acme, fresh, {"Authorization": f"Basic {basic}"})


@contextmanager
def api_client(server: ServerProcess, client: NewClient) -> Iterator[httpx.Client]:
    """An HTTP client of ``server`` holding an access token of ``client``."""
    with httpx.Client(
        base_url=server.base_url, headers={"User-Agent": USER_AGENT}, timeout=60
    ) as http:
        http.headers["Authorization"] = f"Bearer {token(http, client)}"
        yield http


def token(http: httpx.Client, client: NewClient) -> str:
    response = http.post(
        f"/tenants/{client.tenant}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
        headers={"Authorization": ""},
    )
    assert response.status_code == 200, response.text
    found: str = response.json()["access_token"]
    return found


def walk(http: httpx.Client, collection: str, filter: str = WINDOW) -> list[dict[str, Any]]:
    """Every record of a collection, following nextLink (dated ones in ``filter``)."""
    params = {"filter": filter} if collection in DATED else {}
    response = http.get(f"{API}/{collection}", params=params)
    records: list[dict[str, Any]] = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        records += page["value"]
        if "nextLink" not in page:
            return records
        response = http.get(page["nextLink"])


def content(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without their change versions: what a reset must bring back exactly."""
    return [{k: v for k, v in r.items() if k != "changeVersion"} for r in records]


def everything(http: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """The content of every collection, and the custom references of person 1."""
    found = {name: content(walk(http, name)) for name in [*DATED, *REFERENCES]}
    response = http.get(f"{API}/people/1/external-references")
    assert response.status_code == 200, response.text
    found["people/1/external-references"] = [response.json()]
    return found


def highest_version(http: httpx.Client) -> str:
    versions: list[str] = [
        r["changeVersion"] for name in [*DATED, *REFERENCES] for r in walk(http, name)
    ]
    return max(versions)


def change_the_data(http: httpx.Client) -> dict[str, Any]:
    """Writes through the API: a new clocking, a changed one, a deleted one, a custom
    reference. Returns the new clocking."""
    clockings = [c for c in walk(http, "clockings") if c["kind"] == "InOut"]
    first, second = clockings[0], clockings[1]
    created = http.post(
        f"{API}/clockings",
        json={
            "person": {"id": 1},
            "date": "2026-01-19",
            "timeOfDayInMinutes": 601,
            "kind": "InOut",
        },
    )
    assert created.status_code == 201, created.text
    body = {
        "person": {"id": first["person"]["id"]},
        "date": first["date"],
        "timeOfDayInMinutes": first["timeOfDayInMinutes"] + 7,
        "kind": first["kind"],
    }
    changed = http.put(f"{API}/clockings/{first['id']}", json=body)
    assert changed.status_code == 200, changed.text
    assert http.delete(f"{API}/clockings/{second['id']}").status_code == 204
    reference = http.put(f"{API}/people/1/external-references/payroll", json={"value": "P-1"})
    assert reference.status_code == 200, reference.text
    found: dict[str, Any] = created.json()
    return found


def admin(server: ServerProcess, sandbox: Sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url,
        headers={"User-Agent": USER_AGENT, **sandbox.operator},
        timeout=120,
    )
