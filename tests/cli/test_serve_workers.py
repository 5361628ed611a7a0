"""``chronodelta serve --workers N`` on PostgreSQL: several processes, one consistent API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from chronodelta.testing import ServerProcess
from tests.conftest import new_database_url
from tests.provisioning import bearer, provision_with_cli

PATH = "/connector/protimeapi/api/v1/clockings"
USER_AGENT = {"User-Agent": "workers-test/1.0 (chronodelta)"}


@pytest.mark.postgresql
def test_several_workers_serve_concurrent_writers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(request, "postgresql", tmp_path)
    client = provision_with_cli(url, people=3, days=2, until="2026-01-20")
    with (
        ServerProcess(url, args=["--workers", "3"]) as server,
        httpx.Client(
            base_url=server.base_url, headers={"User-Agent": "workers-test/1.0 (chronodelta)"}
        ) as http,
    ):
        auth = bearer(http, client)

        def create(minute: int) -> dict[str, object]:
            body = {
                "person": {"id": 1},
                "date": "2026-01-19",
                "timeOfDayInMinutes": minute,
                "kind": "InOut",
            }
            response = http.post(PATH, json=body, headers=auth)
            assert response.status_code == 201, response.text
            record: dict[str, object] = response.json()
            return record

        with ThreadPoolExecutor(max_workers=8) as pool:
            records = list(pool.map(create, range(60)))
        assert len({r["id"] for r in records}) == 60
        assert len({r["changeVersion"] for r in records}) == 60
        listed = http.get(
            PATH, headers=auth, params={"filter": "date eq '2026-01-19' and person eq 1"}
        ).json()["value"]
        assert {r["id"] for r in records} <= {r["id"] for r in listed}
        metrics = http.get("/metrics").text
        assert 'route="/connector/protimeapi/api/v1/clockings"' in metrics
    assert server.output.count("Application startup complete") >= 3


# ---- each worker accepts on a socket of its own (server/_workers.py) ----------------


def listening_sockets(server: ServerProcess) -> dict[int, str]:
    """Each worker's listening socket on the server's port, by worker process id, as
    the kernel names it (``socket:[inode]``: the same for processes sharing one)."""
    found = {}
    for worker in psutil.Process(server.pid).children():
        try:
            for conn in worker.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr.port == server.port:
                    found[worker.pid] = os.readlink(f"/proc/{worker.pid}/fd/{conn.fd}")
        except (psutil.Error, OSError):
            continue  # a worker that is exiting (the one killed): not listening
    return found


def test_each_worker_listens_on_a_socket_of_its_own(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """uvicorn's one shared socket let one worker take most keep-alive connections
    (issue 14, item 1: eight writers' spread 7+1); with a socket each, the kernel
    spreads them (``SO_REUSEPORT``)."""
    url = new_database_url(request, "sqlite", tmp_path)
    with ServerProcess(url, args=["--workers", "3"]) as server:
        sockets = listening_sockets(server)
        assert len(sockets) == 3
        assert len(set(sockets.values())) == 3  # three sockets, not one shared
        assert "Uvicorn running on" in server.output  # said once all three serve
        assert server.output.count("Application startup complete") == 3


def test_a_worker_that_dies_is_started_again_on_its_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(request, "sqlite", tmp_path)
    with ServerProcess(url, args=["--workers", "2"]) as server:
        before = listening_sockets(server)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # polled until the replacement listens, or the deadline
            after = listening_sockets(server)
            if len(after) == 2 and victim not in after:
                break
            assert time.monotonic() < deadline, server.output
            time.sleep(0.05)
        assert set(after.values()) == set(before.values())  # the same two sockets
        for _ in range(20):  # fresh connections, whichever socket they are hashed to
            with httpx.Client(base_url=server.base_url, headers=USER_AGENT) as http:
                assert http.get("/metrics").status_code == 200
        assert "died; starting another" in server.output


def test_a_port_in_use_is_refused_with_a_message(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = new_database_url(request, "sqlite", tmp_path)
    with ServerProcess(url, args=["--workers", "2"]) as server:
        # A process of its own: serve sets environment variables for its workers.
        second = subprocess.run(
            [sys.executable, "-m", "chronodelta", "serve", "--port", str(server.port),
             "--workers", "2", "--database", url],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert server.output.count("Application startup complete") == 2  # still serving
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in second.stderr
