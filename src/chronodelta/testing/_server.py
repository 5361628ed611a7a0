"""A real ``chronodelta serve`` process on a free loopback port, for tests and benchmarks.

Readiness is taken from the server's own log, read by a thread, so nothing waits a
guessed amount of time: both "Application startup complete" and "Uvicorn running on".
With one worker uvicorn listens before it logs the second. With several, the parent
logs it when it has bound the socket, and each worker logs the first before it calls
listen(), so a connection made then is refused: the port is then probed until it
accepts one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

READY_LINES = ("Application startup complete", "Uvicorn running on")
_PORT_TAKEN = "address already in use"
_PORT_ATTEMPTS = 4


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """``chronodelta serve`` in a subprocess; its output is kept for assertions.

    ``args`` are added to ``serve``'s command line, ``env`` to its environment (say
    ``CHRONODELTA_PAGE_SIZE``). ``launcher`` goes between the interpreter and
    ``-m chronodelta``: a wrapper script and its arguments, such as the benchmarks'
    profiler (``python bench/_profiled.py OUT.prof -m chronodelta serve ...``); the
    wrapper must run ``-m MODULE`` with the arguments after it.
    """

    def __init__(
        self,
        database_url: str,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        launcher: Sequence[str] = (),
        startup_timeout: float = 120.0,
    ) -> None:
        self.database_url = database_url
        self.port = free_port()
        self._args = list(args)
        self._env = dict(env or {})
        self._launcher = list(launcher)
        self._timeout = startup_timeout
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self._lines)

    @property
    def pid(self) -> int:
        """The server's process id (uvicorn's workers, if any, are its children)."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        ``free_port`` closes its probe before the server binds, so another process can
        take the port in between: on "address already in use" the start is made again
        on a new port, a few times.
        """
        if self._process is not None:
            raise RuntimeError("the server is already running")
        for _ in range(_PORT_ATTEMPTS - 1):
            try:
                self._start_once()
                return
            except RuntimeError:
                if _PORT_TAKEN not in self.output:
                    raise
                self.port, self._lines = free_port(), []
                self._ready = threading.Event()
        self._start_once()

    def _start_once(self) -> None:
        command = [
            sys.executable,
            *self._launcher,
            "-m",
            "chronodelta",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database",
            self.database_url,
            *self._args,
        ]
        env = {
            **os.environ,
            "CHRONODELTA_DATABASE_URL": self.database_url,
            "COLUMNS": "200",
            **self._env,
        }
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + self._timeout
        if not self._ready.wait(self._timeout) or not self._accepts(deadline):
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.output}")

    def _accepts(self, deadline: float) -> bool:
        """Whether the server accepts a connection before ``deadline`` (and still runs)."""
        while self._process is not None and self._process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)  # a probe's pause: bound but not listening yet
        return False

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        waiting_for = set(READY_LINES)
        for line in self._process.stdout:
            self._lines.append(line)
            waiting_for -= {ready for ready in READY_LINES if ready in line}
            if not waiting_for:
                self._ready.set()
        self._ready.set()  # the process ended: wake start() so it can report

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # The whole group: workers too. uvicorn shuts down gracefully on SIGTERM, so a
        # launcher such as a profiler still writes its output.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
