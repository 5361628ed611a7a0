"""The token endpoint's counters do not grow without bound (issue 10, item 8).

``token_request_windows`` kept a row per claimed client id, forever: a flood of made-up
ids grew it by a row each. Now only a source's failures and an authenticated client's
tokens are counted, and retention (``run_retention``, which every worker runs, and
``chronodelta retention run``) deletes every window before the current one.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server import NewClient, run_retention
from chronodelta.storage import plain_write_transaction, read_transaction, tables

from .conftest import Serve, caller, made_up_id, request_token

WINDOWS = tables.token_request_windows
TTL, OVERLAP = dt.timedelta(hours=72), dt.timedelta(minutes=5)


def windows(engine: Engine) -> list[tuple[str, int]]:
    with read_transaction(engine) as connection:
        rows = connection.execute(sa.select(WINDOWS.c.client_key, WINDOWS.c.window_start))
        return sorted((row.client_key, row.window_start) for row in rows)


def at(window_start: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(window_start, dt.UTC)


def test_made_up_client_ids_add_no_rows_and_retention_deletes_past_windows(
    serve: Serve, acme: NewClient, engine: Engine
) -> None:
    server = serve()
    with caller(server) as http:
        for number in range(25):
            assert request_token(http, made_up_id(number), "guess").status_code == 401
        assert request_token(http, acme.client_id, acme.client_secret).status_code == 200
    counted = windows(engine)
    # One row per source and window (two if the minute turned meanwhile), one per client.
    assert {key for key, _ in counted} == {"fail:127.0.0.1", f"issue:acme/{acme.client_id}"}
    assert len(counted) <= 3, counted
    latest = max(start for _, start in counted)
    kept = run_retention(engine, ttl=TTL, overlap=OVERLAP, now=at(latest))
    assert {start for _, start in windows(engine)} == {latest}  # the current window stays
    assert kept.token_windows == len(counted) - len(windows(engine))
    later = run_retention(engine, ttl=TTL, overlap=OVERLAP, now=at(latest + 60))
    assert later.token_windows >= 1
    assert windows(engine) == []


def test_retention_run_deletes_windows_of_the_past(database_url: str, engine: Engine) -> None:
    """``chronodelta retention run``, as an operator (or a cron job) runs it."""
    with plain_write_transaction(engine) as connection:
        connection.execute(
            WINDOWS.insert(),
            [  # the old key format, a claimed client id, and one of this very window
                {"client_key": "acme/cd-made-up", "window_start": 60, "request_count": 1},
                {"client_key": "fail:192.0.2.1", "window_start": 120, "request_count": 7},
                {"client_key": "fail:192.0.2.2", "window_start": 2**40, "request_count": 1},
            ],
        )
    command = [sys.executable, "-m", "chronodelta", "retention", "run", "--json"]
    done = subprocess.run(
        [*command, "--database", database_url], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout)["token_windows"] == 2
    assert windows(engine) == [("fail:192.0.2.2", 2**40)]
