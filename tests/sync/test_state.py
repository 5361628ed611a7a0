"""The pure state transitions of one collection's sync."""

from __future__ import annotations

import datetime as dt

import pytest

from chronodelta.sync import SyncState, after_changes, after_page, begin_generation, new_state
from chronodelta.sync._state import matches

NOW = dt.datetime(2026, 1, 20, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)


def started() -> SyncState:
    return begin_generation(new_state("clockings", "src#acme", "date ge '2026-01-01'", ""))


def test_a_new_state_must_start_a_delta_in_generation_one() -> None:
    state = started()
    assert state.needs_start and state.phase == "snapshot" and state.link is None
    assert (state.generation, state.revision) == (1, 1)
    assert state.expires_at() is None


def test_pages_keep_the_next_link_until_the_last_gives_the_delta_link() -> None:
    state = after_page(started(), records=25, next_link="/n1", delta_link=None, now=NOW)
    assert (state.phase, state.link, state.snapshot_records) == ("snapshot", "/n1", 25)
    assert not state.needs_start and state.link_stored_at == NOW
    state = after_page(state, records=7, next_link=None, delta_link="/d1", now=LATER)
    assert (state.phase, state.link, state.snapshot_records) == ("delta", "/d1", 32)
    assert state.revision == 3 and state.last_success is None
    assert state.expires_at() == LATER + dt.timedelta(hours=72)


def test_a_page_needs_exactly_one_link_and_only_during_the_snapshot() -> None:
    with pytest.raises(ValueError):
        after_page(started(), records=1, next_link=None, delta_link=None, now=NOW)
    with pytest.raises(ValueError):
        after_page(started(), records=1, next_link="/n", delta_link="/d", now=NOW)
    done = after_page(started(), records=1, next_link=None, delta_link="/d", now=NOW)
    with pytest.raises(ValueError):
        after_page(done, records=1, next_link="/n", delta_link=None, now=NOW)
    with pytest.raises(ValueError):
        after_changes(started(), applied=0, delta_link="/d", now=NOW)


def test_changes_replace_the_delta_link_and_mark_success() -> None:
    done = after_page(started(), records=1, next_link=None, delta_link="/d1", now=NOW)
    state = after_changes(done, applied=4, delta_link="/d2", now=LATER)
    assert (state.link, state.changes_applied, state.last_success) == ("/d2", 4, LATER)
    assert state.link_stored_at == LATER and state.revision == done.revision + 1
    assert state.expires_at() == LATER + dt.timedelta(hours=72)


def test_starting_over_bumps_the_generation_and_forgets_the_link() -> None:
    done = after_page(started(), records=9, next_link=None, delta_link="/d1", now=NOW)
    synced = after_changes(done, applied=2, delta_link="/d2", now=LATER)
    again = begin_generation(synced)
    assert again.needs_start and again.generation == 2 and again.link_stored_at is None
    assert (again.snapshot_records, again.changes_applied) == (0, 0)
    assert again.last_success == LATER  # the mirror was up to date then
    refiltered = begin_generation(again, filter="date ge '2026-01-05'")
    assert refiltered.filter == "date ge '2026-01-05'" and refiltered.generation == 3
    assert matches(refiltered, "src#acme", "date ge '2026-01-05'", "")
    assert not matches(refiltered, "src#acme", "date ge '2026-01-01'", "")
    assert not matches(refiltered, "other#acme", "date ge '2026-01-05'", "")
