"""The request log's bounds and its writers' lifecycle on a running server (issue 13,
item 3: "Bounded retention (count and age, configurable)"; rows buffered per worker are
written on shutdown; a full buffer drops rows and counts them), and the ``requests``
command, plain and ``--follow``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.server import RequestLogQuery, query_request_log
from chronodelta.server.request_log._entry import LogEntry
from chronodelta.server.request_log._store import write_entries
from chronodelta.server.request_log._writer import RequestLogWriter
from chronodelta.storage import create_engine
from tests.server.sandbox_server import (
    CLOCKINGS_PATH,
    JANUARY,
    LOG_DEADLINE_SECONDS,
    Sandbox,
    bearer,
    start_sandbox,
)

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def entry(at: dt.datetime, path: str) -> LogEntry:
    return LogEntry("acme", at, "cd-retention", "GET", path, "", 200, 1.0, 10)


@pytest.fixture(params=DATABASES)
def trimming(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A server that trims the log every second: at most 5 rows per tenant, a day old."""
    yield from start_sandbox(
        request,
        tmp_path,
        request.param,
        CHRONODELTA_RETENTION_INTERVAL_SECONDS="1",
        CHRONODELTA_REQUEST_LOG_MAX_ROWS="5",
        CHRONODELTA_REQUEST_LOG_MAX_AGE_SECONDS="86400",
    )


def test_retention_trims_the_log_by_count_and_by_age(trimming: Sandbox) -> None:
    """Eight fresh rows, then three two days old (so with the highest ids): the old ones
    go by age, and of the fresh ones the five newest stay (by count)."""
    now = dt.datetime.now(dt.UTC)
    fresh = [entry(now, f"/fresh/{n}") for n in range(8)]
    old = [entry(now - dt.timedelta(days=2), f"/old/{n}") for n in range(3)]
    for batch in (fresh, old):
        write_entries(trimming.engine, batch)
    deadline = time.monotonic() + LOG_DEADLINE_SECONDS
    while True:
        rows = query_request_log(trimming.engine, "acme", RequestLogQuery(oldest_first=True))
        if [r.path for r in rows] == [f"/fresh/{n}" for n in range(3, 8)]:
            break
        assert time.monotonic() < deadline, [r.path for r in rows]
        time.sleep(0.1)  # a poll's pause: retention runs every second


@pytest.fixture(params=DATABASES)
def slow_flushing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    """A server whose workers write the log only every minute (or when they stop)."""
    yield from start_sandbox(
        request, tmp_path, request.param, CHRONODELTA_REQUEST_LOG_FLUSH_MS="60000"
    )


def test_buffered_rows_are_written_when_the_server_stops(slow_flushing: Sandbox) -> None:
    client = slow_flushing.new_client()
    token = slow_flushing.token(client)
    for _ in range(6):
        with slow_flushing.http() as http:  # fresh connections: both workers buffer some
            assert (
                http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token)).status_code == 200
            )
    slow_flushing.server.stop()  # SIGTERM: each worker's shutdown writes its buffer
    rows = query_request_log(slow_flushing.engine, "acme", RequestLogQuery(client=client.client_id))
    assert sorted(r.status for r in rows) == [200] * 7


def test_a_full_buffer_drops_rows_and_counts_them(tmp_path: Path) -> None:
    """The writer holds at most max_pending rows; what does not fit is dropped and
    counted, and what was kept is written by the next flush."""
    engine = create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    writer = RequestLogWriter(engine, max_pending=3, flush_interval=60)
    now = dt.datetime.now(dt.UTC)
    for n in range(5):
        writer.add(entry(now, f"/{n}"))
    assert writer.dropped == 2
    writer.flush()  # no tables in this database: the batch fails, is put back
    assert writer.dropped == 2
    writer.add(entry(now, "/5"))
    assert writer.dropped == 3
    engine.dispose()


def test_the_requests_command_prints_json_lines_and_follows(clean: Sandbox) -> None:
    client = clean.new_client()
    token = clean.token(client)
    with clean.http() as http:
        for _ in range(3):
            http.get(CLOCKINGS_PATH, params=JANUARY, headers=bearer(token))
    clean.logged(client, lambda rows: len(rows) == 4)
    runner = CliRunner()
    args = ["requests", "--tenant", "acme", "--database", clean.database_url]
    printed = runner.invoke(app, [*args, "--json", "--limit", "3"])
    assert printed.exit_code == 0, printed.output
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [line["path"] for line in lines] == [CLOCKINGS_PATH] * 3
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)  # oldest first
    plain = runner.invoke(app, [*args, "--client", client.client_id])
    assert "POST /tenants/acme/connect/token" in plain.stdout and "  200  GET" in plain.stdout
    refused = runner.invoke(app, [*args, "--status", "abc"])
    assert refused.exit_code == 1
    follower = subprocess.Popen(
        [sys.executable, "-m", "chronodelta", *args, "--json", "--follow", "--limit", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert json.loads(follower.stdout.readline())["clientId"] == client.client_id
        with clean.http() as http:
            http.get(f"{CLOCKINGS_PATH}/424242", headers=bearer(token))
        followed = _line_within(follower, LOG_DEADLINE_SECONDS)
        assert (followed["path"], followed["status"]) == (f"{CLOCKINGS_PATH}/424242", 404)
    finally:
        follower.terminate()
        follower.wait(timeout=30)


def _line_within(process: subprocess.Popen[str], seconds: float) -> dict[str, object]:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(seconds)
    assert got and got[0], "requests --follow printed nothing new"
    line: dict[str, object] = json.loads(got[0])
    return line
