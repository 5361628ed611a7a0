"""``serve --workers N``: N uvicorn workers, each with a listening socket of its own.

uvicorn's own supervisor binds one socket and every worker accepts from it. The worker
whose event loop wakes first accepts every connection waiting (asyncio accepts up to
the backlog at each wake), so connections made close together pile onto one worker;
with keep-alive they stay there. ``bench.write_throughput --part scaling`` saw eight
writers' connections spread 7+1 over two workers, and two writers share one worker
more often than not: a worker's Python serves its connections one at a time, so the
other core idles (issue 14, item 1, "eight writers at least 1.8x one writer").

Here the parent binds one socket per worker to the same address with ``SO_REUSEPORT``
(Linux), and each worker accepts only from its own: the kernel spreads new connections
over the sockets by a hash of their addresses and ports, as nginx's ``reuseport``
does (a spread, not a balance: eight connections over two workers come out 4+4, 5+3 or
6+2 mostly, against mostly 6+2 or 7+1 from one shared socket). The parent binds them
all and listens before any worker starts, so a connection made while a worker starts,
or restarts, waits in that worker's queue instead of being refused; serve says it is
running once every worker serves. A worker that dies is started again on the same
socket; one that fails before serving (the app does not load) stops the server, as
uvicorn's supervisor does. SIGINT and SIGTERM stop every worker gracefully.

uvicorn's ``Process`` (``uvicorn.supervisors.multiprocess``, pinned with uvicorn in
pyproject.toml) starts each worker and answers its health checks.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Process

logger = logging.getLogger("uvicorn.error")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STARTUP_SECONDS = 120.0  # how long the first start of a worker may take, at most


class PortInUse(OSError):
    """Another server listens on the address already."""


def reuse_port_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` listening sockets bound to ``host``:``port`` with ``SO_REUSEPORT``.

    First the address is bound once without it: a port held by any other server (even
    another ``serve`` using ``SO_REUSEPORT``) refuses that, so two servers never
    silently share a port. Port 0 picks a free port for all of them.
    """
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise PortInUse(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    for _ in range(count):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address if not sockets else sockets[0].getsockname())
        sock.listen(backlog)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


class ReusePortWorkers:
    """Runs ``config``'s app in one worker process per socket until told to stop."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self._config = config
        self._sockets = sockets
        self._processes: list[Process] = []
        self._stop = threading.Event()
        self._failed = False

    def run(self, on_serving: Callable[[], None]) -> bool:
        """Serve until SIGINT or SIGTERM (True), or until a worker fails to start (False).

        ``on_serving`` is called once every worker serves (not if one fails to start):
        a connection made before then may wait for its worker's startup.
        """
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        self._processes = [self._started(sock) for sock in self._sockets]
        ready = [p.wait_until_ready(STARTUP_SECONDS, self._stop) for p in self._processes]
        if all(ready):
            on_serving()
        while not self._stop.wait(0.5):
            self._replace_dead()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join()
        return not self._failed

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("Received %s, stopping the workers.", signal.Signals(signum).name)
        self._stop.set()

    def _started(self, sock: socket.socket) -> Process:
        process = Process(self._config, [sock])
        process.start()
        return process

    def _replace_dead(self) -> None:
        """Start a dead or hung worker again on its socket; stop if it never served."""
        for index, process in enumerate(self._processes):
            if process.is_alive(timeout=self._config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("Worker [%s] failed to start; stopping.", process.pid)
                self._failed = True
                self._stop.set()
                return
            if self._stop.is_set():
                return
            logger.warning("Worker [%s] died; starting another.", process.pid)
            self._processes[index] = self._started(self._sockets[index])
