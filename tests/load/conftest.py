"""A seeded tenant for the load tests: one API client for the writers and the walker,
and one per delta poller (one active delta per collection and API client)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.testing import (
    ApiClient,
    LoadConfig,
    LoadResult,
    ServerProcess,
    describe_exchanges,
)
from tests.provisioning import provision_with_cli

# CHRONODELTA_TODAY pins the day the delta rules count from, so that the filter below
# (a start in the past, not before January 1st of the previous year) stays valid.
TODAY = "2026-01-20"
FIRST_DAY = dt.date(2026, 1, 1)
LAST_DAY = dt.date(2026, 1, 31)
# Small pages: a walk and a snapshot take several requests, so writes land between them.
# Retention runs every second in each worker, and the walker asks for a new token before
# each walk (far more than the default limit of 60 a minute): the mix has every kind of
# write the server makes.
SERVER_ENV = {
    "CHRONODELTA_TODAY": TODAY,
    "CHRONODELTA_PAGE_SIZE": "50",
    "CHRONODELTA_RETENTION_INTERVAL_SECONDS": "1",
    "CHRONODELTA_TOKEN_REQUESTS_PER_MINUTE": "100000",
}
WRITERS = 4
WRITES_PER_WRITER = 60


def _new_client(database_url: str) -> ApiClient:
    result = CliRunner().invoke(
        app, ["clients", "create", "--tenant", "acme", "--json", "--database", database_url]
    )
    assert result.exit_code == 0, result.output
    created: dict[str, Any] = json.loads(result.output)
    return ApiClient(created["client_id"], created["client_secret"])


@dataclass(frozen=True)
class LoadTenant:
    database_url: str
    writer: ApiClient
    pollers: tuple[ApiClient, ...]

    @property
    def workers(self) -> int:
        # SQLite serves with one worker (the CLI's rule); PostgreSQL with two, so that
        # two processes contend for the tenant's counter row.
        return 2 if self.database_url.startswith("postgresql") else 1

    def server(self) -> ServerProcess:
        return ServerProcess(
            self.database_url, args=["--workers", str(self.workers)], env=SERVER_ENV
        )

    def config(self, base_url: str, **changes: Any) -> LoadConfig:
        config = LoadConfig(
            base_url=base_url,
            tenant="acme",
            writer_client=self.writer,
            poller_clients=self.pollers,
            first_day=FIRST_DAY,
            last_day=LAST_DAY,
            writers=WRITERS,
            writes_per_writer=WRITES_PER_WRITER,
            token_per_walk=True,
        )
        return replace(config, **changes)


@pytest.fixture
def load_tenant(database_url: str) -> LoadTenant:
    created = provision_with_cli(database_url, people=6, days=20, until=TODAY)
    writer = ApiClient(created["client_id"], created["client_secret"])
    return LoadTenant(database_url, writer, (_new_client(database_url), _new_client(database_url)))


def assert_served_cleanly(result: LoadResult, server_output: str) -> None:
    """No 5xx; no cut, refused or incomplete response that no planned kill explains;
    every delta response well-formed (each record once, in changeVersion order)."""
    errors = len(result.server_errors())
    assert errors == 0, (
        f"{errors} responses 5xx; the server logged: {_most_common_errors(server_output)}\n"
        f"{result.summary()}"
    )
    broken = result.broken()
    count = len(broken)
    assert count == 0, f"{describe_exchanges(broken)}\n{result.summary()}"
    anomalies = result.anomalies
    assert anomalies == [], anomalies[:5]


def _most_common_errors(output: str) -> str:
    counts = Counter(line.strip() for line in output.splitlines() if "Error:" in line)
    return "; ".join(f"{n} x {line[:160]}" for line, n in counts.most_common(3)) or "nothing"
