"""The HTTP edges: what is checked before routing, in two layers.

``RequestGuard`` is plain ASGI middleware (cheap per request). Contract: a URI over
4,096 characters gets 414; API requests without a User-Agent get 400; bodies over the
configured limit get 413. Issue 10, item 5: a request with no Host, more than one or a
malformed one gets 400 (RFC 9112, 3.2). Issue 10, item 4: a body that has not arrived
by the request's deadline gets 408. Issue 10, item 12: every response says
``nosniff``, and an HTML one cannot be framed and has a Content-Security-Policy.
Metrics are recorded here too, labelled by route template so that ids do not explode
the label set.

``EdgeHttpProtocol`` is uvicorn's httptools protocol with what ASGI comes too late
for (issue 10, item 4): uvicorn read a request head of any size (a 100 MiB header
was read whole) and never timed out a request that did not complete. It counts the
head's bytes as they arrive (431 past ``CHRONODELTA_MAX_HEADER_BYTES``, 414 for a URI
over 4,096 characters however long), gives every request a deadline from its first
byte (``CHRONODELTA_REQUEST_TIMEOUT_SECONDS``: 408 if the head is not complete by
then; the guard enforces it for the body), and closes a connection that sends nothing
after the keep-alive timeout. ``chronodelta serve`` runs it in every worker.
"""

from __future__ import annotations

import asyncio
import functools
import http
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from chronodelta.server._errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    RequestHeaderFieldsTooLarge,
    RequestTimeout,
    UriTooLong,
    error_response,
)
from chronodelta.server._metrics import LATENCY, REQUESTS
from chronodelta.server._settings import Settings

MAX_URI_LENGTH = 4096
USER_AGENT_PREFIXES = ("/connector/", "/tenants/")
# The scope extension by which EdgeHttpProtocol hands a request's deadline (its
# first byte's loop time plus the request timeout) to RequestGuard.
DEADLINE_EXTENSION = "chronodelta.request_deadline"
# The scope extension by which it lets the app close the connection mid-response
# (issue 13, item 2: a fault rule's --drop; request_log/_middleware.py).
ABORT_EXTENSION = "chronodelta.abort"

# RFC 9112, 3.2: Host = uri-host [":" port]. Accepted: a DNS name (labels of letters,
# digits, "-" and "_", one trailing dot allowed), an IPv4 address (which that covers)
# or a bracketed IPv6 literal, and at most five port digits. Anything else could not
# be compared with a tenant's host name, so it is a 400 rather than "no tenant".
_LABEL = rb"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_VALID_HOST = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|(?:" + _LABEL + rb"\.)*" + _LABEL + rb"\.?)?(?::[0-9]{0,5})?"
)

# Issue 10, item 12: HTML the server serves may load and call only this server, and
# may not be framed. A page that needs more (the Swagger UI's inline script, by its
# hash) sends its own policy; this is the default for any other HTML.
DEFAULT_HTML_POLICY = (
    b"default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    b"frame-ancestors 'none'"
)
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": _secured(message.get("headers", ()))}
            await send(message)

        problem = self._problem(scope)
        if problem is not None and _has_body(scope):
            # Refused unread: close after the answer, or a client could keep the
            # connection by trickling the body it announced (issue 10, item 4).
            problem.headers.setdefault("Connection", "close")
        try:
            if problem is None:
                receive, problem = await self._read_body(scope, receive)
            if problem is not None:
                await error_response(problem)(scope, receive, send_and_record)
            else:
                await self.app(scope, receive, send_and_record)
        finally:
            route = _route_template(scope)
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)

    def _problem(self, scope: Scope) -> ApiError | None:
        path = scope.get("raw_path") or scope["path"].encode()
        if len(path) + 1 + len(scope.get("query_string", b"")) > MAX_URI_LENGTH:
            return UriTooLong(
                reasons=[f"The request URI may be at most {MAX_URI_LENGTH} characters"]
            )
        host_problem = _host_problem(scope)
        if host_problem is not None:
            return BadRequest(reasons=[host_problem])
        headers = dict(scope["headers"])
        if (
            scope["path"].startswith(USER_AGENT_PREFIXES)
            and not headers.get(b"user-agent", b"").strip()
        ):
            return BadRequest(
                reasons=["The User-Agent header is required, as ServiceName/Version (Company)"]
            )
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return PayloadTooLarge(reasons=[f"The body may be at most {self.max_body_bytes} bytes"])
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> tuple[Receive, ApiError | None]:
        """Read the body before routing, up to the limit and by the request's deadline.

        The 413 must be decided here: raised from inside the app's ``receive`` (as this
        did before), FastAPI's body parser caught it and answered 400 "There was an
        error parsing the body" (found by test_http_behaviour). So must the 408 (issue
        10, item 4), for the same reason. The body is buffered (at most max_body_bytes,
        as FastAPI reads it whole anyway) and replayed. A request without a body costs
        one ``receive``, which answers at once.
        """
        messages: deque[Message] = deque()
        size = 0
        try:
            async with asyncio.timeout_at(_deadline(scope)):
                while True:
                    message = await receive()
                    messages.append(message)
                    if message["type"] != "http.request":
                        break  # http.disconnect: replayed to the app, which sees it as usual
                    size += len(message.get("body", b""))
                    if size > self.max_body_bytes:
                        return receive, PayloadTooLarge(
                            reasons=[f"The body may be at most {self.max_body_bytes} bytes"]
                        )
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            return receive, RequestTimeout(reasons=[_timeout_reason("body")])

        async def replay() -> Message:
            return messages.popleft() if messages else await receive()

        return replay, None


def _host_problem(scope: Scope) -> str | None:
    """Why the request's Host header is refused (RFC 9112, 3.2: "A server MUST respond
    with a 400 ... to any HTTP/1.1 request message that lacks a Host header field and
    to any request message that contains more than one Host header field line or a
    Host header field with an invalid field value"), if it is."""
    hosts = [value for name, value in scope["headers"] if name == b"host"]
    if len(hosts) > 1:
        # Issue 10, item 5: the tenant check read the first of two Host headers.
        return "A request may carry only one Host header (RFC 9112, section 3.2)"
    if not hosts:
        if scope.get("http_version") == "1.0":
            return None
        return "The Host header is required (RFC 9112, section 3.2)"
    if _VALID_HOST.fullmatch(hosts[0]) is None:
        return "The Host header must be a host name or address with an optional port"
    return None


def _deadline(scope: Scope) -> float | None:
    """The time (the event loop's clock) by which the request's body must be in.

    None without EdgeHttpProtocol (another server, the test client), and for a request
    without a body: that one's single ``receive`` answers at once, and a timer for it
    would only cost time on every GET.
    """
    extension: Any = scope.get("extensions", {}).get(DEADLINE_EXTENSION)
    if extension is None or not _has_body(scope):
        return None
    return float(extension["deadline"])


def _has_body(scope: Scope) -> bool:
    # RFC 9112, 6.3: a request has a body if and only if it has one of these.
    return any(
        name == b"transfer-encoding" or (name == b"content-length" and value != b"0")
        for name, value in scope["headers"]
    )


def _timeout_reason(part: str) -> str:
    return (
        f"The request's {part} did not arrive within the request timeout "
        f"({_edge_limits().request_timeout_seconds} s from its first byte)"
    )


def _secured(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` of a response, with the security headers of issue 10, item 12."""
    secured = [*headers, _NOSNIFF]
    names = {name.lower(): value for name, value in secured}
    if names.get(b"content-type", b"").startswith(b"text/html"):
        secured.append((b"x-frame-options", b"DENY"))
        if b"content-security-policy" not in names:
            secured.append((b"content-security-policy", DEFAULT_HTML_POLICY))
    return secured


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


# ---- below ASGI: uvicorn's HTTP protocol ----------------------------------------


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int
    request_timeout_seconds: int


@functools.cache
def _edge_limits() -> EdgeLimits:
    # From the environment, like every worker's Settings (serve validated them first).
    settings = Settings()
    return EdgeLimits(settings.max_header_bytes, settings.request_timeout_seconds)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; ``EdgeHttpProtocol._refusal`` says why."""


class EdgeHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded head and a request deadline.

    The head (request line to blank line) is counted as it is fed to the parser. While
    a head is awaited or in progress, data is fed in pieces no longer than the room
    left, and a piece counts in full when the head is still incomplete after it; so a
    head of exactly the limit passes and one byte more is refused, and the parser never
    holds more than the limit. (A pipelined request whose head starts in the read that
    ended the previous request is counted from its next read on: its limit may be
    passed by less than that one read, and memory stays bounded.)
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits = _edge_limits()
        self._max_head = limits.max_header_bytes
        self._timeout = limits.request_timeout_seconds
        self._in_head = True  # a head is awaited or arriving (not yet complete)
        self._head_bytes = 0
        self._heads_done = 0
        self._deadline: float | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._refusal: ApiError | None = None

    # -- connection ---------------------------------------------------------------

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        # uvicorn arms the keep-alive timeout only after a response: a connection
        # that never sent a byte stayed open for good (issue 10, item 4).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._in_head:
                self._feed(data)  # a body (and whatever follows it)
                return
            self._start_deadline()
            room = self._max_head - self._head_bytes
            if room <= 0:
                self._refuse(
                    RequestHeaderFieldsTooLarge(
                        reasons=[
                            "The request line and headers may be at most "
                            f"{self._max_head} bytes together"
                        ]
                    )
                )
                return
            piece, data = data[:room], data[room:]
            heads_done = self._heads_done
            self._feed(piece)
            if self._in_head and self._heads_done == heads_done:
                self._head_bytes += len(piece)

    def _feed(self, data: bytes) -> None:
        # uvicorn's own data_received, but a refusal decided in a parser callback
        # (the 414) is answered as such and not logged as an invalid request.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    # -- parser callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._start_deadline()  # a pipelined request's first byte

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URI_LENGTH:
            # Contract, "Errors": 414, before the rest of an endless URI is read.
            self._refusal = UriTooLong(
                reasons=[f"The request URI may be at most {MAX_URI_LENGTH} characters"]
            )
            raise _Refused

    def on_headers_complete(self) -> None:
        deadline = self._deadline
        self._cancel_deadline()
        self._in_head = False
        self._heads_done += 1
        self._head_bytes = 0
        self._use_absolute_form_authority()
        extensions: dict[str, Any] = {ABORT_EXTENSION: {"abort": self._abort_response}}
        if deadline is not None:
            # The body must arrive by the same deadline; RequestGuard reads it.
            extensions[DEADLINE_EXTENSION] = {"deadline": deadline}
        self.scope["extensions"] = extensions
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def _use_absolute_form_authority(self) -> None:
        """RFC 9112, 3.2.2: for a request-target in absolute form
        (``GET http://globex.myprotime.eu/... HTTP/1.1``) the server "MUST ignore the
        received Host header field (if any) and instead use the host information of the
        request-target". uvicorn drops that host and kept the header, so the tenant
        check (issue 10, item 5) saw another host than the request named."""
        if self.url.startswith(b"/") or not self.url[:8].lower().startswith(
            (b"http://", b"https://")
        ):
            return
        try:
            parsed = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            return  # uvicorn refuses it next, with 400
        host = parsed.host or b""
        authority = b"[" + host + b"]" if b":" in host else host
        if parsed.port is not None:
            authority += b":%d" % parsed.port
        self.headers[:] = [(n, v) for n, v in self.headers if n != b"host"]
        self.headers.append((b"host", authority))

    def _abort_response(self) -> None:
        """Close the connection mid-response, on purpose: marked disconnected first, so
        that uvicorn does not log the unfinished response as an application error."""
        if self.cycle is not None:
            self.cycle.disconnected = True
        self.transport.close()

    # -- the deadline -------------------------------------------------------------

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.time() + self._timeout
            self._deadline_timer = self.loop.call_at(self._deadline, self._deadline_passed)

    def _cancel_deadline(self) -> None:
        self._deadline = None
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    def _deadline_passed(self) -> None:
        self._deadline_timer = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head is late while the previous response is still going
            # out: close after that response instead of writing into it.
            self.cycle.keep_alive = False
            return
        self._refuse(RequestTimeout(reasons=[_timeout_reason("headers")]))

    # -- answers that come from here ----------------------------------------------

    def send_400_response(self, msg: str) -> None:
        # uvicorn's plain-text 400 for what is not HTTP, in the contract's error body.
        self._refuse(self._refusal or BadRequest(reasons=["The request is not valid HTTP/1.1"]))

    def _refuse(self, error: ApiError) -> None:
        """Answer ``error`` in the contract's body and close the connection."""
        self._cancel_deadline()
        # Counted as RequestGuard counts what no route matched (a flood of slow or
        # oversized requests shows in /metrics). The method is known once the URL has
        # begun (it comes first); before that llhttp's method field is just zero.
        method = self.parser.get_method().decode("ascii") if getattr(self, "url", b"") else "-"
        REQUESTS.labels(method, "unmatched", str(error.status_code)).inc()
        body = orjson.dumps(error.body())
        phrase = http.HTTPStatus(error.status_code).phrase
        lines = [f"HTTP/1.1 {error.status_code} {phrase}".encode("ascii")]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
            b": ".join(_NOSNIFF),
        ]
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self.transport.close()
