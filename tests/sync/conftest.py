"""Fixtures of the sync tests: an empty mirror database (SQLite file or PostgreSQL), and
a real ``chronodelta serve`` with a seeded tenant to mirror from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chronodelta.client import Client
from chronodelta.sync import SyncConnection
from chronodelta.testing import ServerProcess, ThrowawayPostgres
from tests.conftest import new_database_url
from tests.provisioning import provision_with_cli

TODAY = "2026-01-20"
SINCE = "2026-01-08"
USER_AGENT = "SyncTests/1.0 (Chronodelta)"


def empty_target(request: pytest.FixtureRequest, kind: str, directory: Path) -> str:
    """An empty database for a mirror: a new SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{directory / f'mirror-{uuid.uuid4().hex[:8]}.db'}"
    cluster: ThrowawayPostgres = request.getfixturevalue("postgres")
    name = f"m_{uuid.uuid4().hex[:16]}"
    request.addfinalizer(lambda: cluster.drop_database(name))
    return cluster.create_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def mirror_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return empty_target(request, request.param, tmp_path)


@dataclass
class Source:
    """A served tenant ``acme`` and the credentials of a client with every scope."""

    server: ServerProcess
    credentials: dict[str, Any]

    @property
    def connection(self) -> SyncConnection:
        return SyncConnection(
            self.server.base_url,
            "acme",
            self.credentials["client_id"],
            self.credentials["client_secret"],
        )

    def client(self) -> Client:
        return Client(
            self.server.base_url,
            "acme",
            self.credentials["client_id"],
            self.credentials["client_secret"],
            user_agent=USER_AGENT,
        )

    def env(self) -> dict[str, str]:
        """The environment variables ``chronodelta sync`` reads its connection from."""
        return {
            "CHRONODELTA_BASE_URL": self.server.base_url,
            "CHRONODELTA_TENANT": "acme",
            "CHRONODELTA_CLIENT_ID": self.credentials["client_id"],
            "CHRONODELTA_CLIENT_SECRET": self.credentials["client_secret"],
        }


def serve_source(
    request: pytest.FixtureRequest,
    directory: Path,
    *,
    people: int = 6,
    days: int = 20,
    env: dict[str, str] | None = None,
) -> Iterator[Source]:
    url = new_database_url(request, "sqlite", directory)
    credentials = provision_with_cli(url, people=people, days=days, until=TODAY)
    settings = {"CHRONODELTA_TODAY": TODAY, "CHRONODELTA_PAGE_SIZE": "25", **(env or {})}
    with ServerProcess(url, env=settings) as server:
        yield Source(server, credentials)


@pytest.fixture
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    yield from serve_source(request, tmp_path)
