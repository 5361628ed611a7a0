"""Issue 9: writers and delta followers at once, on SQLite (one worker) and PostgreSQL
(two workers). No 5xx, no cut or incomplete response, no acknowledged write lost, and
each delta mirror ends equal to the list."""

from __future__ import annotations

from chronodelta.testing import LoadResult, RequestKind, run_load

from .conftest import WRITERS, WRITES_PER_WRITER, LoadTenant, assert_served_cleanly


def test_mixed_load_loses_nothing(load_tenant: LoadTenant) -> None:
    with load_tenant.server() as server:
        result = run_load(load_tenant.config(server.base_url))
        output = server.output

    assert_served_cleanly(result, output)
    # Every write is valid: with no failure, each one must have been acknowledged.
    acknowledged = result.acknowledged_writes
    assert acknowledged == WRITERS * WRITES_PER_WRITER, result.summary()
    assert (result.refused_writes, result.lost_creates) == (0, 0)
    state = result.state_problems()
    assert state == [], state[:5]
    mirrors = result.mirror_problems()
    assert mirrors == [], mirrors
    assert_load_was_mixed(result)


def assert_load_was_mixed(result: LoadResult) -> None:
    """The readers really ran alongside the writers (else the test proves nothing)."""
    begin, end = result.window
    for kind in (RequestKind.DELTA, RequestKind.LIST, RequestKind.TOKEN):
        during = sum(1 for e in result.of_kind(kind) if e.ok and begin <= e.started <= end)
        assert during >= 2, f"only {during} {kind} requests during the writes"
    # The writers deleted clockings and moved some out of the filter: the mirrors had
    # soft-deleted records and Deletes to get right.
    states = list(result.acknowledged.values())
    assert any(ack.deleted for ack in states)
    assert any(not result.config.in_filter(ack.date) for ack in states)
