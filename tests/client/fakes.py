"""A scripted API behind ``httpx.MockTransport``: a token endpoint and queued answers.

Nothing sleeps and nothing reads the real clock: ``Recorder`` collects the sleeps a
client asks for and ``FakeClock`` is moved by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from chronodelta.client import AsyncClient, Client, RetryPolicy

BASE = "https://acme.myprotime.eu"
TENANT = "acme"
CLIENT_ID = "client-123"
SECRET = "s3cr3t-value-never-shown"
USER_AGENT = "SdkTests/1.0 (Chronodelta)"
PREFIX = "/connector/protimeapi/api/v1"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def clocking(record_id: int, version: int = 1, **changes: Any) -> dict[str, Any]:
    """A clocking as the server sends it."""
    wire: dict[str, Any] = {
        "changeVersion": f"{version:020X}",
        "id": record_id,
        "calculatedTimeOfDayInMinutes": 510,
        "isGenerated": False,
        "status": "Active",
        "person": {"id": 1},
        "date": "2026-01-15",
        "timeOfDayInMinutes": 510,
        "kind": "InOut",
    }
    wire.update(changes)
    return wire


def error(status: int, code: str, message: str, *reasons: str, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if reasons:
        body["reasons"] = list(reasons)
    return httpx.Response(status, json={"error": body}, headers=headers)


@dataclass
class FakeApi:
    """Answers token requests itself (``token-1``, ``token-2``, ...) and API requests
    from ``answers``, in order; an exception instance is raised as the transport would."""

    answers: list[Answer] = field(default_factory=list)
    expires_in: int = 1800
    token_answers: list[Answer] = field(default_factory=list)
    token_requests: list[httpx.Request] = field(default_factory=list)
    api_requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0

    def add(self, *answers: Answer) -> FakeApi:
        self.answers.extend(answers)
        return self

    def _answer(self, queue: list[Answer], request: httpx.Request) -> httpx.Response:
        assert queue, f"unexpected request {request.method} {request.url}"
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            self.token_requests.append(request)
            if self.token_answers:
                return self._answer(self.token_answers, request)
            self.issued += 1
            return httpx.Response(
                200,
                json={
                    "access_token": f"token-{self.issued}",
                    "expires_in": self.expires_in,
                    "token_type": "Bearer",
                    "scope": "connector-protimeapi-clockings.read",
                },
            )
        self.api_requests.append(request)
        return self._answer(self.answers, request)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # let concurrent tasks interleave
        await request.aread()
        return self(request)

    def bearer(self, index: int) -> str:
        return self.api_requests[index].headers["Authorization"]


class ChunkedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent in the given chunks, to either client. With ``cut`` the
    connection then breaks (``httpx.RemoteProtocolError``) instead of ending.
    ``sent`` counts the chunks read so far; ``closed`` tells whether it was closed."""

    def __init__(self, chunks: Sequence[bytes], *, cut: bool = False) -> None:
        self.chunks = list(chunks)
        self.cut = cut
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.cut:
            raise httpx.RemoteProtocolError("injected: the connection closed mid-body")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            await asyncio.sleep(0)
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def chunked(body: bytes, size: int, *, cut_at: int | None = None) -> httpx.Response:
    """A 200 whose ``body`` arrives in chunks of ``size`` bytes; with ``cut_at`` the
    connection breaks after that many bytes."""
    sent = body if cut_at is None else body[:cut_at]
    chunks = [sent[start : start + size] for start in range(0, len(sent), size)]
    return httpx.Response(200, stream=ChunkedBody(chunks, cut=cut_at is not None))


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    sleeps: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0, max_retry_after=60.0)


def make_client(
    api: FakeApi,
    *,
    sleeps: Recorder | None = None,
    clock: FakeClock | None = None,
    retry: RetryPolicy = FAST_RETRY,
    **options: Any,
) -> Client:
    return Client(
        BASE,
        TENANT,
        CLIENT_ID,
        SECRET,
        user_agent=options.pop("user_agent", USER_AGENT),
        transport=httpx.MockTransport(api),
        retry=retry,
        sleep=sleeps if sleeps is not None else Recorder(),
        random=lambda: 0.5,
        clock=clock if clock is not None else FakeClock(),
        **options,
    )


def make_async_client(
    api: FakeApi,
    *,
    sleeps: Recorder | None = None,
    clock: FakeClock | None = None,
    retry: RetryPolicy = FAST_RETRY,
    **options: Any,
) -> AsyncClient:
    recorder = sleeps if sleeps is not None else Recorder()
    return AsyncClient(
        BASE,
        TENANT,
        CLIENT_ID,
        SECRET,
        user_agent=USER_AGENT,
        transport=httpx.MockTransport(api.handle_async),
        retry=retry,
        sleep=recorder.async_sleep,
        random=lambda: 0.5,
        clock=clock if clock is not None else FakeClock(),
        **options,
    )
