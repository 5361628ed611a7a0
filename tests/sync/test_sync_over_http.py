"""End to end over real HTTP: random writes, deletes and date changes through the API,
then ``sync`` (library and CLI); the mirror equals the server's filtered state, on
SQLite and PostgreSQL targets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chronodelta.cli import app
from chronodelta.client import Client, RetryPolicy, TransportError
from chronodelta.sync import Mirror, SyncConnection, SyncRequest, run_sync
from chronodelta.testing import free_port

from .conftest import SINCE, Source
from .writes import assert_mirror_equals_source, random_writes, source_state

ALL = ("clockings", "paid-presences", "activity-durations", "calculated-totals")
REFERENCES = "(people,@badge-number)(terminals,@external-code)"


def sync(source: Source, target: str) -> None:
    mirror = Mirror(target)
    try:
        request = SyncRequest(ALL, dt.date.fromisoformat(SINCE), external_references=REFERENCES)
        result = run_sync(source.connection, mirror, request)
    finally:
        mirror.close()
    assert all(c.completed for c in result.collections) and not result.stopped


def test_the_mirror_follows_random_writes(source: Source, mirror_target: str) -> None:
    rng = random.Random(5)
    with source.client() as client:
        sync(source, mirror_target)
        assert_mirror_equals_source(client, mirror_target, ALL, REFERENCES)
        for _ in range(2):
            made = random_writes(client, rng, 40)
            assert made["move_out"] and made["delete"] and made["create"]
            sync(source, mirror_target)
            assert_mirror_equals_source(client, mirror_target, ALL, REFERENCES)
    mirror = Mirror(mirror_target)
    try:
        states = {name: mirror.state(name) for name in ALL}
    finally:
        mirror.close()
    # One delta all along: no re-initialization was needed.
    assert all(s is not None and s.generation == 1 and s.phase == "delta" for s in states.values())
    assert_typed_columns_of_calculated_totals(mirror_target)


def assert_typed_columns_of_calculated_totals(target: str) -> None:
    """Contract, "Fidelity": each calculated-totals field has a column of its own."""
    mirror = Mirror(target)
    try:
        rows = mirror.rows("calculated-totals")
    finally:
        mirror.close()
    assert rows
    for row in rows.values():
        raw = row["raw"]
        assert (row["person_id"], str(row["date"])) == (raw["person"]["id"], raw["date"])
        assert row["flextime_balance_in_minutes"] == raw["flextimeBalanceInMinutes"]
        assert row["weekly_hours_3_duration_in_minutes"] == raw["weeklyHours3DurationInMinutes"]
        assert row["shift_definition_id"] == (raw.get("shiftDefinition") or {}).get("id")


def test_the_command_line_syncs_reports_status_and_never_echoes_the_secret(
    source: Source, mirror_target: str
) -> None:
    runner = CliRunner()
    args = [
        "sync",
        "clockings",
        "paid-presences",
        "--since",
        SINCE,
        "--target",
        mirror_target,
        "--kind",
        "InOut",
        "--external-references",
        "(people,@badge-number)",
    ]
    with source.client() as client:
        first = runner.invoke(app, args, env=source.env())
        assert first.exit_code == 0, first.output
        random_writes(client, random.Random(9), 30)
        second = runner.invoke(app, [*args, "-v"], env=source.env())
        assert second.exit_code == 0, second.output
        expected = {i: raw for i, raw in _clockings(client).items() if raw["kind"] == "InOut"}
    status = runner.invoke(app, ["sync", "status", "--target", mirror_target, "--json"])
    assert status.exit_code == 0, status.output
    lines = {line["collection"]: line for line in json.loads(status.stdout)}
    assert lines["clockings"]["records"] == len(expected) > 0
    assert lines["clockings"]["phase"] == "delta"
    assert 0 < lines["clockings"]["expires_in_seconds"] <= 72 * 3600
    secret = source.credentials["client_secret"]
    for output in (first.output, second.output, status.output):
        assert secret not in output
    assert "committed delta" in second.output
    mirror = Mirror(mirror_target)
    try:
        rows = mirror.rows("clockings")
    finally:
        mirror.close()
    assert {i: row["raw"] for i, row in rows.items()} == expected


def _clockings(client: Client) -> dict[int, Any]:
    return source_state(client, "clockings", "(people,@badge-number)")


def test_bad_options_are_refused_before_any_request(source: Source, mirror_target: str) -> None:
    runner = CliRunner()
    cases = {
        "unknown collection": ["sync", "people", "--since", SINCE],
        "kind without clockings": ["sync", "paid-presences", "--since", SINCE, "--kind", "InOut"],
        "bad date": ["sync", "clockings", "--since", "20-01-2026"],
        "interval beyond 24 h": [
            "sync",
            "clockings",
            "--since",
            SINCE,
            "--follow",
            "--interval",
            "200000",
        ],
    }
    for name, args in cases.items():
        result = runner.invoke(app, [*args, "--target", mirror_target], env=source.env())
        assert result.exit_code != 0, name
        assert source.credentials["client_secret"] not in result.output, name
    missing = runner.invoke(
        app,
        ["sync", "clockings", "--since", SINCE],
        env={
            "CHRONODELTA_BASE_URL": "",
            "CHRONODELTA_TENANT": "",
            "CHRONODELTA_CLIENT_ID": "",
            "CHRONODELTA_CLIENT_SECRET": "",
        },
    )
    assert missing.exit_code == 2 and "--client-secret" in missing.output


def test_a_mirror_recovers_from_a_wrong_url_another_api_client_and_new_references(
    source: Source, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path}/recovering.db"
    clockings = ("clockings",)
    request = SyncRequest(clockings, dt.date.fromisoformat(SINCE))

    def sync_with(connection: SyncConnection, request: SyncRequest) -> None:
        mirror = Mirror(target)
        try:
            options = {"retry": RetryPolicy(max_attempts=1)}
            run_sync(connection, mirror, request, client_options=options)
        finally:
            mirror.close()

    # A first run against a wrong URL stores a state but nothing of that "source":
    # it must not bind the mirror to it.
    wrong = dataclasses.replace(source.connection, base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransportError):
        sync_with(wrong, request)
    sync_with(source.connection, request)
    # Another API client of the same tenant: its delta is its own, so it starts one.
    other = CliRunner().invoke(
        app,
        ["clients", "create", "--tenant", "acme", "--json", "--database",
         source.server.database_url],
    )  # fmt: skip
    assert other.exit_code == 0, other.output
    created = json.loads(other.stdout)
    switched = dataclasses.replace(
        source.connection, client_id=created["client_id"], client_secret=created["client_secret"]
    )
    sync_with(switched, request)
    # New external references: every row is read again with them, versions unchanged.
    with_references = dataclasses.replace(request, external_references=REFERENCES)
    sync_with(switched, with_references)
    mirror = Mirror(target)
    try:
        state = mirror.state("clockings")
    finally:
        mirror.close()
    assert state is not None and state.client_id == created["client_id"]
    assert state.generation == 4 and state.source == source.connection.source
    with source.client() as client:
        assert_mirror_equals_source(client, target, clockings, REFERENCES)
