"""A webhook receiver on loopback, in the test process, and a real server to push to it.

Tests wait on what the receiver got with a bounded condition wait (``wait_for``), never
a sleep. ``answer`` decides each response's status from what came so far.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from chronodelta.server import create_client, create_tenant, seed_tenant
from chronodelta.testing import ServerProcess

API = "/connector/protimeapi/api/v1"
USER_AGENT = "chronodelta-tests/1.0 (chronodelta)"
WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


Answer = Callable[[Received, list[Received]], int]


class Receiver:
    def __init__(self, answer: Answer = lambda _r, _all: 204) -> None:
        self.answer = answer
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                got = Received(
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                )
                with receiver._changed:
                    receiver.received.append(got)
                    status = receiver.answer(got, list(receiver.received))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(
        self, done: Callable[[list[Received]], bool], timeout: float = WAIT_SECONDS
    ) -> list[Received]:
        with self._changed:
            if not self._changed.wait_for(lambda: done(self.received), timeout):
                raise AssertionError(f"the receiver did not get it in time: {self.received}")
            return list(self.received)


@dataclass
class Tenant:
    database_url: str
    client_id: str
    client_secret: str

    def server(self, env: dict[str, str] | None = None, workers: int = 1) -> ServerProcess:
        return ServerProcess(self.database_url, args=["--workers", str(workers)], env=env or {})

    @contextmanager
    def http(self, server: ServerProcess) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=server.base_url, headers={"User-Agent": USER_AGENT}) as http:
            token = http.post(
                "/tenants/acme/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
            )
            assert token.status_code == 200, token.text
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield http


def provision(engine: Engine, database_url: str) -> Tenant:
    create_tenant(engine, "acme")
    seed_tenant(engine, "acme", people=3, days=3, seed=3, until=dt.date(2026, 1, 20))
    client = create_client(engine, "acme")
    return Tenant(database_url, client.client_id, client.client_secret)


def register(http: httpx.Client, url: str, collection: str = "clockings") -> dict[str, Any]:
    response = http.post(
        f"{API}/webhooks", json={"destinationUrl": url, "collectionName": collection}
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def post_clocking(
    http: httpx.Client, minutes: int = 510, date: str = "2026-01-15"
) -> dict[str, Any]:
    response = http.post(
        f"{API}/clockings",
        json={"person": {"id": 1}, "date": date, "timeOfDayInMinutes": minutes, "kind": "InOut"},
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def of_webhook(received: list[Received], webhook_id: str) -> list[Received]:
    return [r for r in received if r.event["webhookId"] == webhook_id]
