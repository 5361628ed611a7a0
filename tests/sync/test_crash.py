"""Kill the sync (SIGKILL) at random moments, during the initial snapshot and during
deltas, and restart it each time: the mirror converges with nothing lost or doubled.

The moments come from the sync's own output, not from timers: it logs a line before
each delta request, when a transaction starts writing rows (the test driver adds
that one), and after each committed response; the test kills it right after reading
a randomly chosen line, so the kill lands wherever the process has got to by then:
fetching, inside a transaction, committing, or between. (Mutation-checked: storing
the link in its own transaction before the page's rows fails this test.) Small
pages (5 records) give the snapshot many commits. Writes go on between runs, so
records change mid-snapshot.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronodelta.sync import Mirror

from .conftest import SINCE, Source, serve_source
from .writes import assert_mirror_equals_source, live_clockings, random_writes

COLLECTIONS = ("clockings", "paid-presences")
PROGRESS = ("committed snapshot page", "committed delta", "reading the changes", "writing")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_pages(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Source]:
    # No overlap: the first deltaLink call must not re-deliver (and so hide) a lost page.
    env = {"CHRONODELTA_PAGE_SIZE": "5", "CHRONODELTA_DELTA_OVERLAP_SECONDS": "0"}
    yield from serve_source(request, tmp_path, people=6, env=env)


def run_once(source: Source, target: str, kill_after: int | None) -> tuple[bool, list[str]]:
    """One sync process; SIGKILL after the ``kill_after``-th progress line.

    Returns whether it was killed, and its output lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.sync_driver", target, SINCE, *COLLECTIONS],
        cwd=ROOT,
        env={**os.environ, **source.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    seen = 0
    killed = False
    for line in process.stdout:
        lines.append(line)
        if kill_after is not None and any(mark in line for mark in PROGRESS):
            seen += 1
            if seen == kill_after:
                process.send_signal(signal.SIGKILL)
                killed = True
                break
    process.stdout.close()
    code = process.wait()
    if not killed:
        assert code == 0 and lines[-1].strip() == "DONE", "".join(lines[-30:])
    return killed, lines


def state_phase(target: str) -> str | None:
    mirror = Mirror(target)
    try:
        state = mirror.state("paid-presences")
    finally:
        mirror.close()
    return None if state is None else state.phase


def test_sigkill_at_random_moments_loses_and_doubles_nothing(
    small_pages: Source, tmp_path: Path
) -> None:
    source = small_pages
    target = f"sqlite:///{tmp_path / 'crash-mirror.db'}"
    rng = random.Random(20261123)
    snapshot_kills = delta_kills = 0
    resumed = False
    with source.client() as client:
        known = live_clockings(client)
        # The initial snapshot: kill after 2-9 progress lines, again and again (24 times
        # at most, to bound the test's time), until it is done.
        while state_phase(target) != "delta":
            killed, lines = run_once(
                source, target, rng.randint(2, 9) if snapshot_kills < 24 else None
            )
            snapshot_kills += killed
            resumed = resumed or any("resuming snapshot" in line for line in lines)
            random_writes(client, rng, 2, known=known)
            assert snapshot_kills < 200, "the snapshot never completes"
        # Deltas: changes between runs; kill before, during or after each delta.
        while delta_kills < 10:
            random_writes(client, rng, 12, known=known)
            killed, _ = run_once(source, target, rng.randint(1, 5))
            delta_kills += killed
        run_once(source, target, None)
        assert_mirror_equals_source(client, target, COLLECTIONS)
    mirror = Mirror(target)
    try:
        generations = {c: mirror.state(c) for c in COLLECTIONS}
    finally:
        mirror.close()
    print(f"kills: {snapshot_kills} during the snapshot, {delta_kills} during deltas")
    assert snapshot_kills >= 10 and snapshot_kills + delta_kills >= 20
    assert resumed
    # Every restart continued from its stored link: no collection ever started over.
    assert all(s is not None and s.generation == 1 for s in generations.values())
