"""Raw HTTP/1.1 over a socket: what httpx will not send (two Host headers, a header
that never ends, a request cut short) and what it hides (when the server closes).

Every socket wait is bounded by ``FAILSAFE``: a test that waits for the server to
answer or close fails after that instead of hanging. It is a bound, never a way to
let something happen: the tests wait for the server's bytes or its end of the stream.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import orjson

FAILSAFE = 30.0


@dataclass(frozen=True)
class RawResponse:
    status_code: int
    headers: dict[str, str]  # lower-case names; repeated ones joined with ", "
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.body)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=FAILSAFE)


def request(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """A request as bytes, with the headers exactly as given (none added)."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_response(sock: socket.socket) -> RawResponse:
    """One response (status line, headers, a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the server closed the connection before answering: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("the server closed the connection inside the body")
        body += chunk
    return RawResponse(int(status_line.split(" ")[1]), headers, body[:length])


def closed_by_server(sock: socket.socket) -> bytes:
    """Read until the server ends the stream; what came before the end (if anything).

    A reset counts as the end: the server may close with unread bytes of ours, and
    the kernel then answers with RST.
    """
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data
