"""``CallRecorder``: the ASGI middleware that logs API calls and acts out fault rules.

Which calls: the token endpoint (``/tenants/{tenant}/connect/token``) and the
``/connector/...`` API (issue 13, items 2 and 3); everything else passes untouched.

* The token endpoint's tenant is its path's and its client the one the request names
  (the form is already buffered by ``RequestGuard``, so reading it here costs no
  I/O). Its fault rules fire here, before the route: it has no token to verify.
* An API call's tenant and client are known only from its verified token: the access
  check fills them in and fires the rules (``_call.CallNotes``), in the route's thread.
* A status rule is an error like any other (rendered by the one handler); a latency
  rule waits before the response starts; a drop rule starts the response, sends half
  of its first body chunk and closes the connection (``ABORT_EXTENSION``, offered by
  ``EdgeHttpProtocol``), so the client sees a response cut mid-body.
* When the response is done, one ``LogEntry`` goes to the worker's writer.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronodelta.server._clock import utc_now
from chronodelta.server._errors import error_response
from chronodelta.server._middleware import ABORT_EXTENSION
from chronodelta.server.faults._injected import InjectedFault
from chronodelta.server.faults._rules import FaultRule, FaultRules
from chronodelta.server.request_log._call import NOTES_KEY, Caller, CallNotes
from chronodelta.server.request_log._entry import (
    ERROR_BODY_BYTES,
    LogEntry,
    error_details,
    redacted_query,
    token_client_id,
    token_form_summary,
)
from chronodelta.server.request_log._writer import RequestLogWriter
from chronodelta.storage import DatabaseUnavailable

API_PREFIX = "/connector/"
TOKEN_PATH = re.compile(r"/tenants/([a-z][a-z0-9-]{0,62})/connect/token")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CallRecorder:
    def __init__(
        self,
        app: ASGIApp,
        *,
        writer: RequestLogWriter | None,
        faults: FaultRules | None,
        body_bytes: int,
    ) -> None:
        self.app = app
        self.writer = writer
        self.faults = faults
        self.body_bytes = body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.writer is None and self.faults is None):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        token_tenant = TOKEN_PATH.fullmatch(path)
        if token_tenant is None and not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        notes = scope[NOTES_KEY] = CallNotes(self.faults)
        call = _Call(scope, notes, self.body_bytes if scope["method"] in WRITE_METHODS else 0)
        if token_tenant is not None:
            # Never through call.capturing: the raw form holds the client's secret.
            receive = await self._token_request(call, receive, token_tenant.group(1))
        else:
            receive = call.capturing(receive)
        tap = _ResponseTap(send, notes, scope)
        try:
            if notes.fault is not None and notes.fault.action == "status":
                await error_response(InjectedFault(notes.fault))(scope, receive, tap.send)
            else:
                await self.app(scope, receive, tap.send)
        finally:
            if self.writer is not None and notes.caller is not None:
                self.writer.add(call.entry(notes.caller, tap))

    async def _token_request(self, call: _Call, receive: Receive, tenant: str) -> Receive:
        """Read the (buffered) form to name the client, and fire the tenant's rules."""
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        headers = dict(call.scope["headers"])
        client = token_client_id(headers.get(b"authorization", b""), body)
        call.notes.caller = Caller(tenant, client)
        call.body = token_form_summary(body).encode()[: call.limit] if call.limit else None
        if self.faults is not None:
            try:
                await run_in_threadpool(call.notes.admit, call.scope["method"], call.scope["path"])
            except InjectedFault:
                pass  # answered by __call__, from notes.fault
            except DatabaseUnavailable:
                pass  # no rule fires; the route meets the same database and answers 503
        replay = list(messages)

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        return replayed


class _Call:
    """The request side of a call: when it began, what it asked, its body (capped)."""

    def __init__(self, scope: Scope, notes: CallNotes, limit: int) -> None:
        self.scope = scope
        self.notes = notes
        self.limit = limit
        self.started = time.perf_counter()
        self.logged_at = utc_now()
        self.body: bytes | None = b"" if limit else None
        self.truncated = False

    def capturing(self, receive: Receive) -> Receive:
        if not self.limit:
            return receive

        async def captured() -> Message:
            message = await receive()
            if message["type"] == "http.request" and self.body is not None:
                chunk: bytes = message.get("body", b"")
                room = self.limit - len(self.body)
                self.truncated = self.truncated or len(chunk) > room
                self.body += chunk[: max(0, room)]
            return message

        return captured

    def entry(self, caller: Caller, tap: _ResponseTap) -> LogEntry:
        code, reasons = error_details(tap.status, bytes(tap.error_body))
        fault = self.notes.fault
        return LogEntry(
            tenant=caller.tenant,
            logged_at=self.logged_at,
            client_id=caller.client_id,
            method=self.scope["method"],
            path=self.scope["path"],
            query=redacted_query(self.scope.get("query_string", b"")),
            status=tap.status,
            duration_ms=(time.perf_counter() - self.started) * 1000,
            response_bytes=tap.sent_bytes,
            error_code=code,
            error_reasons=reasons,
            fault_rule_id=fault.id if fault is not None else None,
            fault=fault.describe() if fault is not None else None,
            request_body=self.body.decode("utf-8", "replace") if self.body else None,
            request_body_truncated=self.truncated,
        )


class _ResponseTap:
    """Forwards the response, counting it; acts out a latency or drop rule."""

    def __init__(self, send: Send, notes: CallNotes, scope: Scope) -> None:
        self._send = send
        self._notes = notes
        self._scope = scope
        self.status = 500  # if the app raises before answering, the 500 it becomes
        self.sent_bytes = 0
        self.error_body = bytearray()
        self._held_start: Message | None = None
        self._cut = False

    async def send(self, message: Message) -> None:
        if self._cut:
            return  # the connection is closed: the rest goes nowhere
        if message["type"] == "http.response.start":
            self.status = message["status"]
            fault = self._notes.fault
            if fault is not None and fault.action == "latency" and fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if _dropping(fault):
                self._held_start = message
                return
        elif message["type"] == "http.response.body":
            chunk: bytes = message.get("body", b"")
            if self.status >= 400 and len(self.error_body) < ERROR_BODY_BYTES:
                self.error_body += chunk[: ERROR_BODY_BYTES - len(self.error_body)]
            if self._held_start is not None:
                await self._drop(chunk, more=bool(message.get("more_body", False)))
                return
            self.sent_bytes += len(chunk)
        await self._send(message)

    async def _drop(self, chunk: bytes, *, more: bool) -> None:
        """Start the response, send half of ``chunk`` and close the connection."""
        if not chunk and more:
            return  # wait for a chunk with bytes in it
        assert self._held_start is not None
        if chunk:
            await self._send(self._held_start)
            half = chunk[: len(chunk) // 2]
            await self._send({"type": "http.response.body", "body": half, "more_body": True})
            self.sent_bytes += len(half)
        # An empty body cannot be cut: the connection closes before the status line.
        self._cut = True
        self._held_start = None
        await _abort(self._scope)


def _dropping(fault: FaultRule | None) -> bool:
    return fault is not None and fault.action == "drop"


async def _abort(scope: Scope) -> None:
    extension: Any = scope.get("extensions", {}).get(ABORT_EXTENSION)
    abort: Callable[[], None] | None = (
        extension.get("abort") if isinstance(extension, dict) else None
    )
    if abort is not None:
        abort()
        await asyncio.sleep(0)  # let the transport report the connection lost
