"""``python -m tests.sync.sync_driver TARGET SINCE COLLECTION...``: one sync pass, as
``chronodelta sync -v`` does it (same library calls and log lines), for the tests
that kill the process. It skips the CLI's imports of the server (about 1.5 s each
start), which the crash test would pay 30 times; the CLI itself is tested elsewhere.
Connection from the ``CHRONODELTA_*`` environment variables."""

from __future__ import annotations

import datetime as dt
import logging
import sys

from chronodelta.sync import LogReporter, Mirror, SyncRequest, resolve_connection, run_sync


def main(argv: list[str]) -> int:
    target, since, *collections = argv
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    mirror = Mirror(target)
    try:
        result = run_sync(
            resolve_connection(),
            mirror,
            SyncRequest(tuple(collections), dt.date.fromisoformat(since)),
            reporter=LogReporter(verbose=True),
        )
    finally:
        mirror.close()
    print("DONE" if all(c.completed for c in result.collections) else "INCOMPLETE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
