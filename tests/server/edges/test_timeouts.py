"""A request must arrive whole within ``CHRONODELTA_REQUEST_TIMEOUT_SECONDS`` of its
first byte, and an idle connection is closed (issue 10, item 4).

uvicorn never timed out a request that did not complete: a client that sent half a
head, or a head and half a body, or one byte now and then, held its connection (and
the server's memory for it) forever, and so did a connection that sent nothing. Now
such a request gets 408 in the contract's error body with ``Connection: close``, and
the server closes the connection; an idle one is closed without a word.

The server runs with a 1 s request timeout and keep-alive. The tests wait for what
the server sends and for the end of the stream, never for a time (raw.FAILSAFE only
bounds each wait); the trickling client paces its bytes by waiting for the answer.
"""

from __future__ import annotations

import select

import pytest
from sqlalchemy.engine import Engine

from chronodelta.domain import API_PREFIX
from chronodelta.server import tenant_id
from chronodelta.storage import write_transaction
from tests.server.conftest import USER_AGENT
from tests.server.edges.conftest import Served, StartServer, error_reasons
from tests.server.edges.raw import (
    FAILSAFE,
    RawResponse,
    closed_by_server,
    connect,
    read_response,
    request,
)

CLOCKINGS = f"{API_PREFIX}/clockings"
CLOCKING = b'{"person": {"id": 1}, "date": "2026-01-15", "timeOfDayInMinutes": 7, "kind": "InOut"}'
SHORT = {"CHRONODELTA_REQUEST_TIMEOUT_SECONDS": "1", "CHRONODELTA_KEEP_ALIVE_SECONDS": "1"}


@pytest.fixture
def short(start_server: StartServer) -> Served:
    return start_server(SHORT)


def headers(served: Served, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [
        ("Host", "127.0.0.1"),
        ("User-Agent", USER_AGENT),
        ("Authorization", f"Bearer {served.token}"),
        *extra,
    ]


def assert_timed_out(response: RawResponse, after: bytes) -> None:
    error_reasons(response, 408, "RequestTimeout")
    assert response.headers.get("connection") == "close"
    assert after == b""


def test_a_head_that_never_ends_gets_408_and_the_connection_closes(short: Served) -> None:
    for partial in (
        b"G",
        b"GET /healthz HTTP/1.1\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x/1 (y)\r\n",
    ):
        with connect(short.port) as sock:
            sock.sendall(partial)
            response = read_response(sock)
            assert_timed_out(response, closed_by_server(sock))
    # Counted like any request no route matched ("-": not even the method had come).
    metrics = short.http.get("/metrics").text
    assert 'method="-",route="unmatched",status="408"} 1.0' in metrics
    assert 'method="GET",route="unmatched",status="408"} 2.0' in metrics


def test_a_head_that_trickles_is_cut_at_its_deadline(short: Served) -> None:
    """More bytes do not extend the deadline: it counts from the request's first byte."""
    with connect(short.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        # One byte every 0.1 s until the server answers (a bounded number of them).
        for _ in range(int(FAILSAFE / 0.1)):
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:
                break
            sock.sendall(b"a")
        else:
            pytest.fail("the server kept reading a trickling head")
        assert_timed_out(read_response(sock), closed_by_server(sock))


def test_a_body_that_never_ends_gets_408_and_the_connection_closes(short: Served) -> None:
    for extra, body in (
        ([("Content-Length", str(len(CLOCKING)))], CLOCKING[:10]),
        ([("Content-Length", str(len(CLOCKING)))], b""),
        ([("Transfer-Encoding", "chunked")], b"a\r\n" + CLOCKING[:10] + b"\r\n"),
    ):
        with connect(short.port) as sock:
            content = [("Content-Type", "application/json"), *extra]
            sock.sendall(request("POST", CLOCKINGS, headers(short, *content), body))
            response = read_response(sock)
            assert_timed_out(response, closed_by_server(sock))
    # Nothing was created, and the 408s are counted as such.
    listed = short.http.get(
        CLOCKINGS,
        params={"filter": "date ge '2026-01-15' and date le '2026-01-15'"},
        headers=short.auth,
    )
    assert 7 not in [record["timeOfDayInMinutes"] for record in listed.json()["value"]]
    metrics = short.http.get("/metrics").text
    assert 'status="408"' in metrics


def test_a_connection_that_sends_nothing_is_closed(short: Served) -> None:
    with connect(short.port) as sock:
        assert closed_by_server(sock) == b""


def test_an_idle_kept_alive_connection_is_closed(short: Served) -> None:
    with connect(short.port) as sock:
        sock.sendall(request("GET", "/healthz", headers(short)))
        assert read_response(sock).status_code == 200
        sock.sendall(request("GET", "/healthz", headers(short)))  # kept alive
        assert read_response(sock).status_code == 200
        assert closed_by_server(sock) == b""


def test_a_request_received_whole_is_not_cut_while_it_waits(
    start_server: StartServer, engine: Engine
) -> None:
    """The timeout is for receiving a request; answering it may take longer.

    A clocking write waits for the tenant's write lock, held here. A second connection's
    408 shows that the request timeout has passed since the write was sent whole; then
    the lock is released and the write is answered: 201.
    """
    served = start_server(SHORT)
    with connect(served.port) as writer:
        with write_transaction(engine, tenant_id(engine, "acme")):
            content = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(CLOCKING))),
            ]
            writer.sendall(request("POST", CLOCKINGS, headers(served, *content), CLOCKING))
            with connect(served.port) as clock:
                clock.sendall(b"GET /healthz HTTP/1.1\r\n")  # opened after the write was sent
                assert read_response(clock).status_code == 408
        created = read_response(writer)
    assert created.status_code == 201, created.text


def test_a_request_refused_before_its_body_is_read_closes_the_connection(
    short: Served,
) -> None:
    """A 413 (or 414, 400) is decided before the body is read; the connection is closed
    after it, or a client could hold it by trickling the body it announced."""
    announced = [("Content-Type", "application/json"), ("Content-Length", str(2 * 1024 * 1024))]
    with connect(short.port) as sock:
        sock.sendall(request("POST", CLOCKINGS, headers(short, *announced)))
        response = read_response(sock)
        error_reasons(response, 413, "PayloadTooLarge")
        assert response.headers.get("connection") == "close"
        for _ in range(int(FAILSAFE / 0.1)):
            readable, _, _ = select.select([sock], [], [], 0.1)
            try:
                if readable:
                    assert sock.recv(65536) == b""
                    break
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            pytest.fail("the server kept reading the body of a refused request")
