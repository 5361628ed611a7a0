"""What the sync tells its user: a Rich progress bar on a terminal, log lines otherwise.

The runner calls a ``Reporter``'s methods after each committed response. ``LogReporter``
writes plain lines through ``logging`` (at most one progress line every few seconds
per collection, or one per committed response when ``verbose``); ``RichReporter``
shows a live bar per collection with the record count and rate during a snapshot.
Neither ever shows a link or a credential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ._apply import ChangeCounts

log = logging.getLogger("chronodelta.sync")


class Reporter:
    """The events of a sync; the base class reports nothing."""

    def snapshot_started(self, collection: str, generation: int, resumed: bool) -> None: ...

    def page_committed(self, collection: str, records: int, total: int) -> None: ...

    def snapshot_done(self, collection: str, total: int, swept: int) -> None: ...

    def changes_requested(self, collection: str) -> None: ...

    def changes_committed(self, collection: str, counts: ChangeCounts) -> None: ...

    def reinitializing(self, collection: str, reason: str) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class LogReporter(Reporter):
    """Plain log lines (no terminal): throttled progress, or every commit if verbose."""

    def __init__(
        self,
        *,
        verbose: bool = False,
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verbose = verbose
        self._every = every_seconds
        self._clock = clock
        self._started: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def _rate(self, collection: str, total: int) -> float:
        elapsed = self._clock() - self._started.get(collection, self._clock())
        return total / elapsed if elapsed > 0 else 0.0

    def snapshot_started(self, collection: str, generation: int, resumed: bool) -> None:
        self._started[collection] = self._last[collection] = self._clock()
        verb = "resuming" if resumed else "starting"
        log.info("%s: %s snapshot (generation %d)", collection, verb, generation)

    def page_committed(self, collection: str, records: int, total: int) -> None:
        now = self._clock()
        if self._verbose:
            log.info(
                "%s: committed snapshot page of %d records (%d so far)", collection, records, total
            )
        elif now - self._last.get(collection, now) >= self._every:
            log.info(
                "%s: snapshot %d records (%.0f/s)", collection, total, self._rate(collection, total)
            )
        else:
            return
        self._last[collection] = now

    def snapshot_done(self, collection: str, total: int, swept: int) -> None:
        log.info(
            "%s: snapshot complete, %d records (%.0f/s); %d stale rows removed",
            collection,
            total,
            self._rate(collection, total),
            swept,
        )

    def changes_requested(self, collection: str) -> None:
        if self._verbose:
            log.info("%s: reading the changes since the stored deltaLink", collection)

    def changes_committed(self, collection: str, counts: ChangeCounts) -> None:
        log.info(
            "%s: committed delta: %d upserted, %d deleted, %d ignored as not newer",
            collection,
            counts.upserted,
            counts.deleted,
            counts.ignored,
        )

    def reinitializing(self, collection: str, reason: str) -> None:
        log.warning("%s: the delta is gone (%s); starting a new one", collection, reason)


class RichReporter(LogReporter):
    """A live Rich bar per collection during a snapshot (count and rate), log lines else."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.completed:,.0f} records"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def snapshot_started(self, collection: str, generation: int, resumed: bool) -> None:
        self._started[collection] = self._clock()
        label = f"{collection} snapshot" + (" (resumed)" if resumed else "")
        self._tasks[collection] = self._progress.add_task(label, total=None, rate=0.0)

    def page_committed(self, collection: str, records: int, total: int) -> None:
        task = self._tasks.get(collection)
        if task is not None:
            self._progress.update(task, completed=total, rate=self._rate(collection, total))

    def snapshot_done(self, collection: str, total: int, swept: int) -> None:
        task = self._tasks.pop(collection, None)
        if task is not None:
            self._progress.update(
                task, completed=total, total=total, rate=self._rate(collection, total)
            )
        self._progress.console.print(
            f"{collection}: snapshot complete, {total:,} records; {swept:,} stale rows removed"
        )
