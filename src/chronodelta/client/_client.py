"""``Client``: the blocking client. It only does I/O; the logic is in ``_protocol``."""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
from ._webhooks import Webhooks

M = TypeVar("M")
T = TypeVar("T")


class Client(ClientBase):
    """A blocking client of the Protime Connector API (this server's or the vendor's).

    ::

        with Client("https://acme.myprotime.eu", "acme", CLIENT_ID, SECRET,
                    user_agent="PayrollSync/2.1 (Acme)") as client:
            for clocking in client.clockings.list(date_filter("2026-01-01", "2026-01-31")):
                ...

    ``base_url`` is the API's origin; the token endpoint is
    ``{base_url}/tenants/{tenant}/connect/token`` unless ``token_url`` says otherwise
    (the vendor's is ``https://authentication.<env>/tenants/<tenant>/connect/token``).
    ``scopes``: None asks for none explicitly and gets what the client's registration
    allows. ``user_agent`` is required by the contract, as ``ServiceName/Version
    (Company)``. ``retry``: see ``RetryPolicy``. ``transport`` replaces httpx's
    (tests). ``sleep``, ``random`` and ``clock`` (monotonic seconds) are injectable
    for tests. One client may be shared by threads.
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
        transport: httpx.BaseTransport | None = None,
        token_url: str | httpx.URL | None = None,
        refresh_margin: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
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
        self._token_lock = threading.Lock()
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self.clockings = Clockings(self, CLOCKINGS)
        self.paid_presences = Collection(self, PAID_PRESENCES)
        self.activity_durations = Collection(self, ACTIVITY_DURATIONS)
        self.calculated_totals = Collection(self, CALCULATED_TOTALS)
        self.people = Collection(self, PEOPLE)
        self.terminals = Collection(self, TERMINALS)
        self.activity_definitions = ActivityDefinitions(self, ACTIVITY_DEFINITIONS)
        self.absence_definitions = Collection(self, ABSENCE_DEFINITIONS)
        self.counter_definitions = Collection(self, COUNTER_DEFINITIONS)
        self.shift_definitions = Collection(self, SHIFT_DEFINITIONS)
        self.webhooks = Webhooks(self)

    # ---- the driver: the only place that does I/O ---------------------------------

    def _run(self, flow: Flow[T]) -> T:
        try:
            action = next(flow)
            while True:
                action = flow.send(self._perform(action))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            flow.close()

    def _perform(self, action: Send | Read | Sleep | GetToken) -> Any:
        if isinstance(action, Send):
            try:
                return self._http.send(action.request, stream=action.stream)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                return as_transport_error(exc)
        if isinstance(action, Read):
            return self._read(action)
        if isinstance(action, Sleep):
            self._sleep(action.seconds)
            return None
        return self._token(action.stale)

    @staticmethod
    def _read(action: Read) -> Head | httpx.TransportError:
        response = action.response
        try:
            if action.limit is None:
                return Head(response.read())
            chunks = response.iter_bytes()
            head: list[bytes] = []
            size = 0
            for chunk in chunks:
                head.append(chunk)
                size += len(chunk)
                if size > action.limit:
                    return Head(b"".join(head), chunks)
            return Head(b"".join(head))
        except (httpx.TransportError, httpx.DecodingError) as exc:
            response.close()
            return as_transport_error(exc)

    def _token(self, stale: str | None) -> str:
        with self._token_lock:
            tokens = self._protocol.tokens
            requested_at = self._clock()
            token = tokens.usable(requested_at, stale)
            if token is None:
                token = tokens.store(self._run(self._protocol.token_flow()), requested_at)
            return token

    # ---- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Collection(Generic[M]):
    """Reading one collection: get, auto-paged lists, and delta.

    ``filter`` is text in the vendor's grammar (``date_filter`` builds the common
    ones); ``external_references`` is a list of ``(collection, reference)`` pairs or
    the text ``(people,@badge-number)...``. Iterators send their first request when
    iteration starts.
    """

    def __init__(self, client: Client, spec: CollectionSpec[M]) -> None:
        self._client = client
        self._spec = spec

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def raw(self) -> Collection[dict[str, Any]]:
        """This collection with each record as its decoded JSON object, not a model.

        For code that stores or forwards records as they come (the sync mirror does):
        it skips building the models, which costs more than decoding the JSON.
        """
        return Collection(self._client, self._spec.raw())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._spec.name!r}>"

    def get(self, record_id: int | str, *, external_references: ExternalReferences = ()) -> M:
        """``GET /<collection>/<id>``; ``NotFound`` if there is none. Activity
        definitions' ids are GUIDs (text)."""
        protocol = self._client._protocol
        return self._client._run(protocol.get_record(self._spec, record_id, external_references))

    def get_by_reference(
        self, reference: str, value: str, *, external_references: ExternalReferences = ()
    ) -> M:
        """The record whose own ``reference`` has ``value``: ``client.people.get_by_reference(
        "@badge-number", "6767676")`` sends ``GET /people/6767676?externalReferences=
        (people,@badge-number)``; the record carries that reference. ``NotFound`` if
        no record has it."""
        protocol = self._client._protocol
        return self._client._run(
            protocol.get_record_by_reference(self._spec, reference, value, external_references)
        )

    def pages(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> Iterator[Page[M]]:
        """Every page of a list, following ``nextLink`` until it is absent."""
        first = collection_url(
            self._spec.name, filter=filter, external_references=external_references
        )
        return self._pages(first, delta=False)

    def resume_pages(self, next_link: str) -> Iterator[Page[M]]:
        """The pages of a list from a stored ``nextLink`` on."""
        return self._pages(self._checked(next_link), delta=False)

    def list(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> Iterator[M]:
        """Every record of a list, page after page."""
        for page in self.pages(filter, external_references=external_references):
            yield from page.records

    def start_delta(
        self, filter: str | None = None, *, external_references: ExternalReferences = ()
    ) -> Iterator[Page[M]]:
        """Start a delta (the list GET plus ``&delta``) and yield its snapshot pages.

        Every page but the last has ``next_link``; the last has ``delta_link``. Store
        each page's records together with ``page.link``; after a crash, continue with
        ``resume_delta(next_link)`` or ``follow_delta(delta_link)``. Starting a delta
        supersedes the API client's previous delta of this collection.
        """
        first = collection_url(
            self._spec.name, filter=filter, external_references=external_references, delta=True
        )
        return self._pages(first, delta=True)

    def resume_delta(self, next_link: str) -> Iterator[Page[M]]:
        """A delta's snapshot pages from a stored ``nextLink`` on."""
        return self._pages(self._checked(next_link), delta=True)

    def follow_delta(self, delta_link: str) -> DeltaChanges[M]:
        """``GET`` a deltaLink: every change since it, and the next deltaLink.

        Raises ``DeltaExpired`` (410) when the delta expired or was superseded.
        """
        protocol = self._client._protocol
        return self._client._run(protocol.get_changes(self._spec, self._checked(delta_link)))

    def stream_delta(
        self,
        delta_link: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    ) -> DeltaStream[M]:
        """``GET`` a deltaLink and read its changes batch by batch, never all at once.

        For responses too large to hold (a delta after a long pause or a bulk change)::

            with client.clockings.stream_delta(link) as stream:
                for changes in stream:      # tuples of Change, in response order
                    ...
                stream.delta_link           # set once the body was read to its end

        Entering sends the request, with the retries and ``DeltaExpired`` (410) of
        ``follow_delta``. A body within ``buffer_limit`` bytes is decoded whole (and a
        cut one read again); a longer one is parsed as it arrives. A connection that
        breaks after those bytes raises ``TransportError`` from the loop: batches were
        handed out, so undo them and stream the same link again.
        """
        return DeltaStream(
            self._client,
            self._spec,
            self._checked(delta_link),
            batch_size=batch_size,
            buffer_limit=buffer_limit,
        )

    def _checked(self, link: str) -> str:
        resolve(self._client._protocol.base_url, link)  # ValueError for another server
        return link

    def _pages(self, first: str, *, delta: bool) -> Iterator[Page[M]]:
        protocol = self._client._protocol
        pager = Pager(first, self._spec.parse, delta=delta)
        while pager.link is not None:
            yield pager.accept(self._client._run(protocol.get_json(pager.link)))


class DeltaStream(StreamBase[M]):
    """One deltaLink response, read batch by batch: see ``Collection.stream_delta``."""

    def __init__(
        self,
        client: Client,
        spec: CollectionSpec[M],
        delta_link: str,
        *,
        batch_size: int,
        buffer_limit: int,
    ) -> None:
        super().__init__(spec, delta_link, batch_size=batch_size, buffer_limit=buffer_limit)
        self._client = client

    def __enter__(self) -> Self:
        self._opened = self._client._run(self._open(self._client._protocol))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            self._opened[1].close()

    def __iter__(self) -> Iterator[Batch[M]]:
        reader, head = self._start()
        if head.rest is None:
            yield from reader.whole(head.data)
            return
        yield from reader.feed(head.data)
        for chunk in self._rest(head.rest):
            yield from reader.feed(chunk)
        yield from reader.end()

    def _rest(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from chunks
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self._broken(as_transport_error(exc)) from exc


class ActivityDefinitions(Collection[ActivityDefinition]):
    """The activity definitions: the whole collection, or one structure level's."""

    def in_structure(self, structure_version: str, level: int) -> Collection[ActivityDefinition]:
        """The definitions of one level of one activity structure version (the vendor's
        ``/activity-structure-versions/{id}/levels/{level}/activity-definitions``).
        There, ``get`` takes a definition's GUID or its ``external_reference``."""
        return Collection(self._client, structure_level(structure_version, level))


class Clockings(Collection[Clocking]):
    """The clockings collection: reading plus create, update and delete.

    Writes are retried only where repeating them is safe (see ``RetryPolicy``): PUT and
    DELETE are idempotent; a POST is retried only when the server cannot have acted on
    it (connection refused, 429, 503), never after an ambiguous failure.
    """

    def create(self, clocking: ClockingInput | Mapping[str, Any]) -> CreatedClocking:
        """``POST``; returns the new id (from ``Location``) and the record if returned."""
        protocol = self._client._protocol
        return self._client._run(protocol.create_clocking(clocking))

    def update(
        self,
        clocking_id: int,
        clocking: ClockingInput | Mapping[str, Any],
        *,
        if_match: str | None = None,
    ) -> Clocking | None:
        """``PUT`` the whole clocking; ``if_match`` is a ``changeVersion`` or an ETag
        (``Conflict`` if the clocking changed since). Returns the record if sent back."""
        protocol = self._client._protocol
        return self._client._run(protocol.update_clocking(clocking_id, clocking, if_match))

    def delete(self, clocking_id: int, *, if_match: str | None = None) -> None:
        """``DELETE`` (a soft delete: the clocking stays, with status ``Deleted``)."""
        self._client._run(self._client._protocol.delete_clocking(clocking_id, if_match))
