"""Issue 9: the server SIGKILLed mid-load (all its processes at once) and started again
on the same database. Nothing acknowledged is lost, the deltaLinks held across the
restart still work, and each delta mirror ends equal to the list."""

from __future__ import annotations

import os
import signal

from chronodelta.testing import RequestKind, run_load

from .conftest import WRITERS, WRITES_PER_WRITER, LoadTenant, assert_served_cleanly

# The kill comes after this many acknowledged writes (a count, not a moment), with a
# third of the load still to run on the new server.
KILL_AFTER_WRITES = WRITERS * WRITES_PER_WRITER // 3


def test_kill_under_load_loses_nothing(load_tenant: LoadTenant) -> None:
    servers = [load_tenant.server()]

    def kill_and_restart() -> str:
        old = servers[-1]
        os.killpg(old.pid, signal.SIGKILL)  # uvicorn's workers are in its group
        old.stop()  # reaps it
        servers.append(load_tenant.server())
        servers[-1].start()
        return servers[-1].base_url

    servers[0].start()
    try:
        config = load_tenant.config(
            servers[0].base_url,
            restart_after_writes=KILL_AFTER_WRITES,
            restart=kill_and_restart,
        )
        result = run_load(config)
    finally:
        for server in servers:
            server.stop()

    assert_served_cleanly(result, "".join(server.output for server in servers))
    # The kill waits for both pollers to hold a deltaLink, and came in time if writes
    # reached the new server.
    assert result.restarts == 1, "the server was never killed"
    after = sum(1 for e in result.of_kind(RequestKind.WRITE) if e.ok and e.epoch == 1)
    assert after > 0, "no write reached the new server: the kill came too late"
    for statuses in result.after_restart:
        # The link each poller held when the server died works on the new one.
        assert statuses and statuses[0] == 200, statuses
    state = result.state_problems()
    assert state == [], state[:5]
    mirrors = result.mirror_problems()
    assert mirrors == [], mirrors
