"""A job every worker runs in the background at an interval (the retention passes)."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("chronodelta.retention")


class PeriodicJob:
    """``run_once`` every ``interval`` seconds on a daemon thread, until ``stop``.

    A failed run is logged and tried again at the next interval: the jobs are idempotent,
    so every worker may run them.
    """

    thread_name = "chronodelta-periodic"

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        # A fresh thread per start: an app may be started more than once in a process.
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception:  # a failed run is retried at the next interval
                log.exception("%s failed", self.thread_name)
