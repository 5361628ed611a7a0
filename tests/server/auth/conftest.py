"""Real ``chronodelta serve`` processes on one database with tenant ``acme`` and a client,
and HTTP clients that call them from a chosen loopback source address.

The token endpoint counts failures per source address (issue 10, item 2): any
127.0.0.0/8 address reaches a server listening on 127.0.0.1 (Linux routes the whole
block to the loopback interface), so a test can be several callers at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy.engine import Engine

from chronodelta.server import NewClient, create_client, create_tenant
from chronodelta.testing import ServerProcess
from tests.server.conftest import USER_AGENT

TOKEN_PATH = "/tenants/acme/connect/token"
LIST_PATH = "/connector/protimeapi/api/v1/clockings"
JANUARY = {"filter": "date ge '2026-01-01' and date le '2026-01-31'"}
T = TypeVar("T")
Serve = Callable[..., ServerProcess]


@pytest.fixture
def acme(engine: Engine) -> NewClient:
    """Tenant acme (no data) and an API client of every served scope."""
    create_tenant(engine, "acme")
    return create_client(engine, "acme")


@pytest.fixture
def serve(database_url: str, acme: NewClient) -> Iterator[Serve]:
    """Starts servers on the test's database: ``serve(CHRONODELTA_X="1")``; all stop after."""
    with ExitStack() as stack:

        def start(**env: str) -> ServerProcess:
            return stack.enter_context(ServerProcess(database_url, env=env))

        yield start


def caller(server: ServerProcess, source: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client of ``server`` whose requests come from ``source``."""
    return httpx.Client(
        base_url=server.base_url,
        headers={"User-Agent": USER_AGENT},
        transport=httpx.HTTPTransport(local_address=source),
        timeout=60.0,
    )


def request_token(http: httpx.Client, client_id: str, secret: str) -> httpx.Response:
    return http.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's error body (``{"error": {"code", "message", ...}}``) of ``response``."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def assert_retry_after(response: httpx.Response) -> None:
    """A 429 in the error format with ``Retry-After``: whole seconds, at most a window."""
    assert error_of(response, 429)["code"] == "TooManyRequests"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 61, retry_after


def in_one_window(attempt: Callable[[int], T]) -> T:
    """The result of ``attempt(n)`` from a run that began and ended in one one-minute window.

    The limits count in fixed windows; a run that straddles two is made again with the
    next ``n`` (a fresh source address or client, so the first run's counts do not
    matter). A run takes seconds, so a second one cannot straddle too.
    """
    for number in range(2):
        window = int(time.time() // 60)
        result = attempt(number)
        if int(time.time() // 60) == window:
            return result
    pytest.fail("two window turn-overs in a row")


def made_up_id(number: int) -> str:
    """A client id in the real ids' form that no client has."""
    return f"cd-{number:020x}"
