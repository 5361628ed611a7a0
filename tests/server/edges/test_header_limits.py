"""The request line and headers are bounded: past ``CHRONODELTA_MAX_HEADER_BYTES`` a
request gets 431, before the server has read the rest (issue 10, item 4).

uvicorn reads headers without a limit (a 100 MiB header was read whole, as was a 100
MiB URI). Now the head is counted while it arrives: a request whose head is over the
limit gets 431 Request Header Fields Too Large in the contract's error body and the
connection is closed; a URI over 4,096 characters gets the contract's 414 however long
it is. The 100 MiB cases watch the server's memory while they send, and stop as soon as
the server has answered or closed: the server must do that long before the end.
"""

from __future__ import annotations

import select
import socket

import psutil

from tests.server.conftest import USER_AGENT
from tests.server.edges.conftest import Served, StartServer, error_reasons
from tests.server.edges.raw import RawResponse, closed_by_server, connect, read_response

LIMIT = 16 * 1024
HUNDRED_MIB = 100 * 1024 * 1024
CHUNK = 256 * 1024
# Far below the 100 MiB offered, far above what the server needs to read.
MEMORY_GROWTH_ALLOWED = 40 * 1024 * 1024


def head(target: str, size: int) -> bytes:
    """A GET of ``target`` whose head (request line to blank line) is ``size`` bytes."""
    start = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\n"
    filler = size - len(start) - len("X-Filler: \r\n\r\n")
    assert filler >= 0
    return (start + f"X-Filler: {'a' * filler}\r\n\r\n").encode("ascii")


def exchange(served: Served, data: bytes) -> tuple[RawResponse, bytes]:
    """Send ``data``; the response and whatever followed it before the server closed."""
    with connect(served.port) as sock:
        sock.sendall(data)
        response = read_response(sock)
        if response.status_code >= 400:
            return response, closed_by_server(sock)
        return response, b""


def test_a_head_over_the_limit_is_a_431_and_the_connection_closes(
    start_server: StartServer,
) -> None:
    served = start_server({"CHRONODELTA_MAX_HEADER_BYTES": str(LIMIT)})
    at_the_limit, _ = exchange(served, head("/healthz", LIMIT))
    assert at_the_limit.status_code == 200, at_the_limit.text
    for data in (
        head("/healthz", LIMIT + 1),
        head("/healthz", 4 * LIMIT),
        # Many small headers count as much as one big one.
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-Many-%d: %s\r\n" % (n, b"b" * 200) for n in range(100))
        + b"\r\n",
    ):
        response, after = exchange(served, data)
        reasons = error_reasons(response, 431, "RequestHeaderFieldsTooLarge")
        assert any(str(LIMIT) in reason for reason in reasons), reasons
        assert response.headers.get("connection") == "close"
        assert after == b""  # and then the server closed the connection
    metrics = served.http.get("/metrics").text
    assert 'method="GET",route="unmatched",status="431"} 3.0' in metrics


def offer(served: Served, start: bytes, filler: bytes) -> tuple[int, bytes]:
    """Send ``start`` then up to 100 MiB of ``filler`` until the server answers or
    closes; how much was sent, and what the server had sent back.

    After each chunk the server's memory is checked: a server that buffers what it
    is sent fails here, at the chunk that shows it, rather than after 100 MiB.
    """
    process = psutil.Process(served.server.pid)
    baseline = process.memory_info().rss
    chunk = filler * (CHUNK // len(filler))
    sent = 0
    with connect(served.port) as sock:
        sock.sendall(start)
        try:
            while sent < HUNDRED_MIB:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
                growth = process.memory_info().rss - baseline
                assert growth < MEMORY_GROWTH_ALLOWED, f"{growth} bytes more after {sent} sent"
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed first: what it said is still in our receive buffer
        return sent, closed_by_server(sock)


def test_a_100_mib_header_is_refused_without_being_read(served: Served) -> None:
    sent, answer = offer(served, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"a")
    assert sent < HUNDRED_MIB
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"RequestHeaderFieldsTooLarge"' in answer


def test_a_uri_over_4096_characters_is_a_414_however_long(served: Served) -> None:
    for length in (4097, 100 * 1024):
        target = f"/{'a' * length}"
        response, _ = exchange(served, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        error_reasons(response, 414, "UriTooLong")
    sent, answer = offer(served, b"GET /", b"a")
    assert sent < HUNDRED_MIB
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert b'"UriTooLong"' in answer
    # The server still serves.
    assert served.http.get("/healthz").status_code == 200


def test_a_large_body_is_no_part_of_the_head(served: Served) -> None:
    """The body a request sends with its head, in the same reads, is not counted."""
    body = b"x" * (512 * 1024)
    with connect(served.port) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(
            b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        response = read_response(sock)
    error_reasons(response, 405, "MethodNotAllowed")
