"""``python -m tests.sync.sync_driver TARGET SINCE COLLECTION...``: one sync pass, as
``chronodelta sync -v`` does it (same library calls and log lines), for the tests
that kill the process. It skips the CLI's imports of the server (about 1.5 s each
start), which the crash test would pay 30 times; the CLI itself is tested elsewhere.
Connection from the ``CHRONODELTA_*`` environment variables. Delta responses are read
in batches of 4 here (they hold a few dozen changes), so that a kill can also land
between the batches of one delta transaction."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

from chronodelta.sync import (
    LogReporter,
    Mirror,
    SyncRequest,
    _runner,
    resolve_connection,
    run_sync,
)


def _announce_writes() -> None:
    """Print a line as each transaction starts writing rows, so that the crash test can
    also kill the process *inside* a transaction (after this line, before its commit)."""
    write_rows = Mirror._write_rows

    def announced(self: Mirror, connection: Any, collection: Any, records: Any, gen: int) -> None:
        print(f"writing {len(records)} rows", flush=True)
        write_rows(self, connection, collection, records, gen)

    Mirror._write_rows = announced  # type: ignore[method-assign, assignment]


def main(argv: list[str]) -> int:
    target, since, *collections = argv
    _announce_writes()
    _runner.DELTA_BATCH_SIZE = 4  # each batch announces itself ("writing 4 rows")
    _runner.DELTA_BUFFER_LIMIT = 512
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
