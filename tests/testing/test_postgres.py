"""Tests for chronodelta.testing.ThrowawayPostgres (they start real PostgreSQL servers)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from chronodelta.testing import PostgresUnavailable, ThrowawayPostgres, _postgres


def _unavailable(exc: PostgresUnavailable) -> NoReturn:
    """Skip when PostgreSQL is missing, except in CI where a missing server is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {exc}")
    pytest.skip(str(exc))


def _start_or_skip(pg: ThrowawayPostgres) -> None:
    try:
        pg.start()
    except PostgresUnavailable as exc:
        _unavailable(exc)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    _start_or_skip(pg)
    try:
        yield pg
    finally:
        pg.stop()


def test_database_round_trip_and_template_copy(cluster: ThrowawayPostgres) -> None:
    url = cluster.create_database("original")
    assert url == f"postgresql://postgres@127.0.0.1:{cluster.port}/original"
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE item (id integer PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO item VALUES (1, 'héllo')")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id, name FROM item").fetchall() == [(1, "héllo")]

    # The template must have no open connections: the with-blocks above closed them.
    copy_url = cluster.create_database("copy", template="original")
    with psycopg.connect(copy_url) as conn:
        assert conn.execute("SELECT id, name FROM item").fetchall() == [(1, "héllo")]

    cluster.drop_database("copy")
    cluster.drop_database("copy")  # IF EXISTS: dropping twice is fine
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(copy_url).close()


def test_drop_database_disconnects_sessions(cluster: ThrowawayPostgres) -> None:
    url = cluster.create_database("busy")
    with psycopg.connect(url) as conn:
        cluster.drop_database("busy")  # WITH (FORCE) terminates this session
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")


def test_listens_on_loopback_only(cluster: ThrowawayPostgres) -> None:
    assert cluster.host == "127.0.0.1"
    with psycopg.connect(cluster.url()) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)


@pytest.mark.parametrize(
    "name", ["Upper", "1abc", "a-b", 'x"; DROP DATABASE postgres; --', "", "a" * 64]
)
def test_rejects_unsafe_database_names(cluster: ThrowawayPostgres, name: str) -> None:
    with pytest.raises(ValueError, match="invalid database name"):
        cluster.create_database(name)
    with pytest.raises(ValueError, match="invalid database name"):
        cluster.create_database("fine", template=name)
    with pytest.raises(ValueError, match="invalid database name"):
        cluster.drop_database(name)


def test_context_manager_stop_closes_port_and_removes_directory() -> None:
    pg = ThrowawayPostgres()
    try:
        with pg as entered:
            assert entered is pg
            port, directory = pg.port, pg.directory
            assert (directory / "data" / "PG_VERSION").is_file()
            socket.create_connection((pg.host, port), timeout=5).close()
    except PostgresUnavailable as exc:
        _unavailable(exc)

    assert not directory.exists()
    with pytest.raises(OSError):  # pg_ctl stop -w returned only after the server exited
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    pg.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not started"):
        _ = pg.port


def test_missing_binaries_raise_postgres_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_postgres, "_DEBIAN_INITDB_GLOB", str(tmp_path / "*" / "bin" / "initdb"))
    pg = ThrowawayPostgres()
    with pytest.raises(PostgresUnavailable, match="initdb not found: install Debian's"):
        pg.start()
    pg.stop()  # nothing was created; still safe
