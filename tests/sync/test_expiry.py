"""The 410 path: a delta that expired while the sync was not running (the server's TTL
is 3 seconds here) is started over by itself, and what vanished during the outage,
which no Delete will ever report, is swept from the mirror."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronodelta.client import date_filter
from chronodelta.sync import Mirror, SyncRequest, run_sync

from .conftest import SINCE, TODAY, Source, serve_source
from .writes import BEFORE, assert_mirror_equals_source, random_writes

ALL = ("clockings", "paid-presences", "activity-durations")
TTL_SECONDS = 3


@pytest.fixture
def short_ttl(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    env = {"CHRONODELTA_DELTA_TTL_SECONDS": str(TTL_SECONDS)}
    yield from serve_source(request, tmp_path, env=env)


def sync(source: Source, target: str) -> dict[str, tuple[int, int]]:
    mirror = Mirror(target)
    try:
        result = run_sync(source.connection, mirror, SyncRequest(ALL, dt.date.fromisoformat(SINCE)))
    finally:
        mirror.close()
    assert all(c.completed for c in result.collections)
    return {c.collection: (c.restarts, c.swept) for c in result.collections}


def test_an_expired_delta_restarts_and_the_outage_deletions_reach_the_mirror(
    short_ttl: Source, mirror_target: str
) -> None:
    source = short_ttl
    with source.client() as client:
        assert set(sync(source, mirror_target).values()) == {(0, 0)}
        # The outage: clockings leave the filter, and all clockings of one person-day
        # are deleted, so that day's paid presence is removed for good.
        clockings = [
            c for c in client.clockings.list(date_filter(SINCE, TODAY)) if not c.is_deleted
        ]
        moved = clockings[:4]
        for clocking in moved:
            client.clockings.update(
                clocking.id, dataclasses.replace(clocking.to_input(), date=BEFORE)
            )
        presence = next(iter(client.paid_presences.list(date_filter(SINCE, TODAY))))
        for clocking in client.clockings.list(
            date_filter(presence.date, presence.date, person=presence.person.id)
        ):
            client.clockings.delete(clocking.id)
        assert presence.id not in {
            p.id for p in client.paid_presences.list(date_filter(SINCE, TODAY))
        }
        random_writes(client, random.Random(2), 10)
        time.sleep(TTL_SECONDS + 1)  # the behaviour under test is a clock running out
        outcome = sync(source, mirror_target)
        assert outcome["clockings"][0] == 1 and outcome["clockings"][1] >= len(moved)
        assert outcome["paid-presences"][0] == 1 and outcome["paid-presences"][1] >= 1
        assert_mirror_equals_source(client, mirror_target, ALL)
    mirror = Mirror(mirror_target)
    try:
        assert not {c.id for c in moved} & set(mirror.rows("clockings"))
        assert presence.id not in mirror.rows("paid-presences")
        state = mirror.state("clockings")
    finally:
        mirror.close()
    assert state is not None and state.generation == 2 and state.phase == "delta"


def test_a_continuation_token_conflict_restarts_the_snapshot(
    source: Source, mirror_target: str
) -> None:
    """Contract, "Fidelity", "Paging": an invalid or expired continuation token answers
    409. A sync whose stored snapshot link gets one starts a new generation, as for a
    410, and the mirror still ends equal to the source."""
    assert set(sync(source, mirror_target).values()) == {(0, 0)}
    mirror = Mirror(mirror_target)
    try:
        state = mirror.state("clockings")
        assert state is not None and state.generation == 1
        with source.client() as client:
            first = next(
                client.clockings.start_delta(
                    state.filter, external_references=state.external_references
                )
            )
        assert first.next_link is not None
        head, token = first.next_link.split("continuationToken=")
        token, rest = token.split("&", 1)
        forged = f"{head}continuationToken={'B' if token[0] == 'A' else 'A'}{token[1:]}&{rest}"
        mirror.save(state, dataclasses.replace(state, phase="snapshot", link=forged))
    finally:
        mirror.close()
    outcome = sync(source, mirror_target)
    assert outcome["clockings"][0] == 1
    with source.client() as client:
        assert_mirror_equals_source(client, mirror_target, ALL)
    mirror = Mirror(mirror_target)
    try:
        restarted = mirror.state("clockings")
    finally:
        mirror.close()
    assert restarted is not None and restarted.generation == 2 and restarted.phase == "delta"


def test_sigterm_stops_a_following_sync_cleanly(source: Source, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'follow.db'}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chronodelta",
            "sync",
            "clockings",
            "--since",
            SINCE,
            "--target",
            target,
            "--follow",
            "--interval",
            "3600",
            "-v",
        ],
        env={**os.environ, **source.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = []
    for line in process.stdout:
        output.append(line)
        if "committed delta" in line:
            process.send_signal(signal.SIGTERM)  # it now waits out a one-hour interval
            break
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(output) + rest
    mirror = Mirror(target)
    try:
        state = mirror.state("clockings")
    finally:
        mirror.close()
    assert state is not None and state.phase == "delta" and state.last_success is not None
