"""``AsyncClient``: the asyncio client. It only does I/O; the logic is in ``_protocol``."""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from ._base import ClientBase
from ._models import ActivityDefinition, Clocking, ClockingInput, CreatedClocking
from ._paging import DeltaChanges, Page, Pager
from ._protocol import (
    ABSENCE_DEFINITIONS,
    ACTIVITY_DEFINITIONS,
    ACTIVITY_DURATIONS,
    CALCULATED_TOTALS,
    CLOCKINGS,
    COUNTER_DEFINITIONS,
    PAID_PRESENCES,
    PEOPLE,
    SHIFT_DEFINITIONS,
    TERMINALS,
    CollectionSpec,
    Flow,
    GetToken,
    Head,
    Read,
    Send,
    Sleep,
    as_transport_error,
    structure_level,
)
from ._query import ExternalReferences, collection_url, resolve
from ._retry import RetryPolicy
from ._stream import DEFAULT_BATCH_SIZE, DEFAULT_BUFFER_LIMIT, Batch, StreamBase
from ._webhooks import AsyncWebhooks

M = TypeVar("M")
T = TypeVar("T")


class AsyncClient(ClientBase):
    """The asyncio twin of ``Client``: same arguments, same behaviour, awaitable calls.

    ::

        async with AsyncClient(BASE, "acme", CLIENT_ID, SECRET,
                               user_agent="PayrollSync/2.1 (Acme)") as client:
            async for page in client.clockings.start_delta(date_filter("2026-01-01")):
                ...

    ``sleep`` is an async function (``asyncio.sleep`` by default). Concurrent tasks
    share one token request.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        tenant: str,
        client_id: str,
        client_secret: str,
        *,
        user_agent: str,
        scopes: Sequence[str] | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        token_url: str | httpx.URL | None = None,
        refresh_margin: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            base_url,
            tenant,
            client_id,
            client_secret,
            user_agent=user_agent,
            scopes=scopes,
            retry=retry,
            token_url=token_url,
            refresh_margin=refresh_margin,
            random=random,
        )
        self._sleep = sleep
        self._clock = clock
        self._token_lock = asyncio.Lock()
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
        self.clockings = AsyncClockings(self, CLOCKINGS)
        self.paid_presences = AsyncCollection(self, PAID_PRESENCES)
        self.activity_durations = AsyncCollection(self, ACTIVITY_DURATIONS)
        self.calculated_totals = AsyncCollection(self, CALCULATED_TOTALS)
        self.people = AsyncCollection(self, PEOPLE)
        self.terminals = AsyncCollection(self, TERMINALS)
        self.activity_definitions = AsyncActivityDefinitions(self, ACTIVITY_DEFINITIONS)
        self.absence_definitions = AsyncCollection(self, ABSENCE_DEFINITIONS)
        self.counter_definitions = AsyncCollection(self, COUNTER_DEFINITIONS)
        self.shift_definitions = AsyncCollection(self, SHIFT_DEFINITIONS)
        self.webhooks = AsyncWebhooks(self)

    # ---- the driver: the only place that does I/O ---------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        try:
            action = next(flow)
            while True:
                action = flow.send(await self._perform(action))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            flow.close()

    async def _perform(self, action: Send | Read | Sleep | GetToken) -> Any:
        if isinstance(action, Send):
            try:
                return await self._http.send(action.request, stream=action.stream)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                return as_transport_error(exc)
        if isinstance(action, Read):
            return await self._read(action)
        if isinstance(action, Sleep):
            await self._sleep(action.seconds)
            return None
        return await self._token(action.stale)

    @staticmethod
    async def _read(action: Read) -> Head | httpx.TransportError:
        response = action.response
        try:
            if action.limit is None:
                return Head(await response.aread())
            chunks = response.aiter_bytes()
            head: list[bytes] = []
            size = 0
            async for chunk in chunks:
                head.append(chunk)
                size += len(chunk)
                if size > action.limit:
                    return Head(b"".join(head), chunks)
            return Head(b"".join(head))
        except (httpx.TransportError, httpx.DecodingError) as exc:
            await response.aclose()
            return as_transport_error(exc)

    async def _token(self, stale: str | None) -> str:
        async with self._token_lock:
            tokens = self._protocol.tokens
            requested_at = self._clock()
            token = tokens.usable(requested_at, stale)
            if token is None:
                token = tokens.store(await self._run(self._protocol.token_flow()), requested_at)
            return token

    # ---- lifecycle ----------------------------------------------------------------

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class AsyncCollection(Generic[M]):
    """``Collection`` for ``AsyncClient``: awaitable calls, ``async for`` iterators."""

    def __init__(self, client: AsyncClient, spec: CollectionSpec[M]) -> None:
        self._client = client
        self._spec = spec

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def raw(self) -> AsyncCollection[dict[str, Any]]:
        """This collection with each record as its decoded JSON object, not a model.

        For code that stores or forwards records as they come (the sync mirror does):
        it skips building the models, which costs more than decoding the JSON.
        """
        return AsyncCollection(self._client, self._spec.raw())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._spec.name!r}>"

    async def get(self, record_id: int | str, *, external_references: ExternalReferences = ()) -> M:
        protocol = self._client._protocol
        return await self._client._run(
            protocol.get_record(self._spec, record_id, external_references)
        )

    async def get_by_reference(
        self, reference: str, value: str, *, external_references: ExternalReferences = ()
    ) -> M:
        protocol = self._client._protocol
        return await self._client._run(
            protocol.get_record_by_reference(self._spec, reference, value, external_references)
        )

    def pages(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> AsyncIterator[Page[M]]:
        first = collection_url(
            self._spec.name, filter=filter, external_references=external_references
        )
        return self._pages(first, delta=False)

    def resume_pages(self, next_link: str) -> AsyncIterator[Page[M]]:
        return self._pages(self._checked(next_link), delta=False)

    async def list(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> AsyncIterator[M]:
        async for page in self.pages(filter, external_references=external_references):
            for record in page.records:
                yield record

    def start_delta(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> AsyncIterator[Page[M]]:
        first = collection_url(
            self._spec.name, filter=filter, external_references=external_references, delta=True
        )
        return self._pages(first, delta=True)

    def resume_delta(self, next_link: str) -> AsyncIterator[Page[M]]:
        return self._pages(self._checked(next_link), delta=True)

    async def follow_delta(self, delta_link: str) -> DeltaChanges[M]:
        protocol = self._client._protocol
        return await self._client._run(protocol.get_changes(self._spec, self._checked(delta_link)))

    def stream_delta(
        self,
        delta_link: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    ) -> AsyncDeltaStream[M]:
        """``Collection.stream_delta``: ``async with`` it, ``async for`` its batches."""
        return AsyncDeltaStream(
            self._client,
            self._spec,
            self._checked(delta_link),
            batch_size=batch_size,
            buffer_limit=buffer_limit,
        )

    def _checked(self, link: str) -> str:
        resolve(self._client._protocol.base_url, link)  # ValueError for another server
        return link

    async def _pages(self, first: str, *, delta: bool) -> AsyncIterator[Page[M]]:
        protocol = self._client._protocol
        pager = Pager(first, self._spec.parse, delta=delta)
        while pager.link is not None:
            yield pager.accept(await self._client._run(protocol.get_json(pager.link)))


class AsyncDeltaStream(StreamBase[M]):
    """``DeltaStream`` for ``AsyncClient``: ``async with``, ``async for``."""

    def __init__(
        self,
        client: AsyncClient,
        spec: CollectionSpec[M],
        delta_link: str,
        *,
        batch_size: int,
        buffer_limit: int,
    ) -> None:
        super().__init__(spec, delta_link, batch_size=batch_size, buffer_limit=buffer_limit)
        self._client = client

    async def __aenter__(self) -> Self:
        self._opened = await self._client._run(self._open(self._client._protocol))
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            await self._opened[1].aclose()

    async def __aiter__(self) -> AsyncIterator[Batch[M]]:
        reader, head = self._start()
        if head.rest is None:
            for batch in reader.whole(head.data):
                yield batch
            return
        for batch in reader.feed(head.data):
            yield batch
        async for chunk in self._rest(head.rest):
            for batch in reader.feed(chunk):
                yield batch
        for batch in reader.end():
            yield batch

    async def _rest(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield chunk
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._broken(as_transport_error(exc)) from exc


class AsyncActivityDefinitions(AsyncCollection[ActivityDefinition]):
    """``ActivityDefinitions`` for ``AsyncClient``."""

    def in_structure(
        self, structure_version: str, level: int
    ) -> AsyncCollection[ActivityDefinition]:
        return AsyncCollection(self._client, structure_level(structure_version, level))


class AsyncClockings(AsyncCollection[Clocking]):
    """``Clockings`` for ``AsyncClient`` (the same retry rules for writes)."""

    async def create(self, clocking: ClockingInput | Mapping[str, Any]) -> CreatedClocking:
        protocol = self._client._protocol
        return await self._client._run(protocol.create_clocking(clocking))

    async def update(
        self,
        clocking_id: int,
        clocking: ClockingInput | Mapping[str, Any],
        *,
        if_match: str | None = None,
    ) -> Clocking | None:
        protocol = self._client._protocol
        return await self._client._run(protocol.update_clocking(clocking_id, clocking, if_match))

    async def delete(self, clocking_id: int, *, if_match: str | None = None) -> None:
        await self._client._run(self._client._protocol.delete_clocking(clocking_id, if_match))
