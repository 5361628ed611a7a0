"""Request checks that come before routing, as plain ASGI middleware (cheap per request).

Contract: a URI over 4,096 characters gets 414; API requests without a User-Agent
get 400; bodies over the configured limit get 413. Metrics are recorded here too,
labelled by route template so that ids do not explode the label set.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronodelta.server._errors import (
    ApiError,
    BadRequest,
    PayloadTooLarge,
    UriTooLong,
    error_response,
)
from chronodelta.server._metrics import LATENCY, REQUESTS

MAX_URI_LENGTH = 4096
USER_AGENT_PREFIXES = ("/connector/", "/tenants/")


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
            await send(message)

        problem = self._problem(scope)
        try:
            if problem is None and not any(k == b"content-length" for k, _ in scope["headers"]):
                receive, problem = await self._read_unsized_body(receive)
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

    async def _read_unsized_body(self, receive: Receive) -> tuple[Receive, ApiError | None]:
        """Read a body sent without Content-Length (chunked) before routing, up to the limit.

        The 413 must be decided here: raised from inside the app's ``receive`` (as this
        did before), FastAPI's body parser caught it and answered 400 "There was an
        error parsing the body" (found by test_http_behaviour). The body is buffered
        (at most max_body_bytes, as FastAPI reads it whole anyway) and replayed.
        """
        messages: deque[Message] = deque()
        size = 0
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

        async def replay() -> Message:
            return messages.popleft() if messages else await receive()

        return replay, None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
