"""One deltaLink response read batch by batch, never whole (no I/O).

A deltaLink answers every change since the link in one response; after a long pause
or a bulk change that is a million changes (~270 MB of JSON, well over 1 GB as Python
objects). ``ChangeReader`` turns such a body into batches of ``Change`` as its bytes
arrive, so the memory a response needs stays bounded whatever its size. The drivers
(``DeltaStream`` in ``_client``, ``AsyncDeltaStream`` in ``_async_client``) only
fetch the bytes and feed them in.

Two ways. ``Protocol.open_stream`` first reads up to ``buffer_limit`` bytes: a body
that ends within them is decoded whole by orjson and checked by ``parse_changes``,
exactly as ``follow_delta`` does (``ChangeReader.whole``); a connection that breaks
within them is retried like any GET. Only a longer body is parsed as it comes, from
its first byte (``ChangeReader.feed``): ``_scan.ValueItems`` finds where its changes end
and orjson decodes them, piece by piece, at about the speed of decoding it whole; each
is checked as ``parse_changes`` checks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import httpx

from ._exceptions import TransportError
from ._paging import Change, delta_link_of, parse_change_items, parse_changes
from ._protocol import CollectionSpec, Flow, Head, Protocol, decode_body, not_json, transport_error
from ._scan import NotJson, ValueItems

M = TypeVar("M")
Wire = dict[str, Any]
Batch = tuple[Change[M], ...]

DEFAULT_BATCH_SIZE = 5000
# Within this, a body is decoded whole: about 60,000 changes, some 70 MB as objects.
DEFAULT_BUFFER_LIMIT = 16 * 1024 * 1024
# The scanner is handed at most this much at once, so that the changes one call
# completes (a few hundred) are all that waits to be batched.
_PIECE = 64 * 1024


def check_stream_options(batch_size: int, buffer_limit: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1: {batch_size!r}")
    if buffer_limit < 0:
        raise ValueError(f"buffer_limit must not be negative: {buffer_limit!r}")


class ChangeReader(Generic[M]):
    """Batches of ``batch_size`` changes (the last one shorter) from one response body.

    Call ``whole(body)`` for a body read to its end within the buffer; otherwise
    ``feed(data)`` for each piece, in order, then ``end()``. Each yields the batches it
    completed. ``delta_link`` is set once the last batch was handed out, never before:
    a caller that stops early cannot store a link past changes it did not apply.
    """

    def __init__(
        self,
        parse: Callable[[Wire], M],
        request: httpx.Request,
        response: httpx.Response,
        *,
        batch_size: int,
    ) -> None:
        self._parse = parse
        self._request = request
        self._response = response
        self._batch_size = batch_size
        self._pending: list[Change[M]] = []
        self._json: ValueItems | None = None
        self.delta_link: str | None = None

    def whole(self, body: bytes) -> Iterator[Batch[M]]:
        changes = parse_changes(decode_body(self._request, self._response, body), self._parse)
        size = self._batch_size
        for start in range(0, len(changes.changes), size):
            yield changes.changes[start : start + size]
        self.delta_link = changes.delta_link

    def feed(self, data: bytes) -> Iterator[Batch[M]]:
        parser = self._parser()
        for start in range(0, len(data), _PIECE):
            piece = data[start : start + _PIECE] if len(data) > _PIECE else data
            self._add(self._parsed(parser.feed, piece))
            yield from self._batches(final=False)

    def end(self) -> Iterator[Batch[M]]:
        parser = self._parser()
        self._add(self._parsed(lambda _: parser.close(), b""))
        delta_link = delta_link_of(parser.top)
        yield from self._batches(final=True)
        self.delta_link = delta_link

    def _parser(self) -> ValueItems:
        if self._json is None:
            self._json = ValueItems()
        return self._json

    def _parsed(self, step: Callable[[bytes], list[Any]], data: bytes) -> list[Any]:
        try:
            return step(data)
        except NotJson:
            raise not_json(self._request, self._response) from None

    def _add(self, items: list[Any]) -> None:
        if items:
            self._pending.extend(parse_change_items(items, self._parse))

    def _batches(self, *, final: bool) -> Iterator[Batch[M]]:
        pending, size = self._pending, self._batch_size
        while len(pending) >= size or (final and pending):
            batch = tuple(pending[:size])
            del pending[:size]
            yield batch


class StreamBase(Generic[M]):
    """What ``DeltaStream`` and ``AsyncDeltaStream`` share; they add the I/O.

    Entering one opens the response (``Protocol.open_stream``: retries, the 401
    refresh and ``DeltaExpired`` as for ``follow_delta``); iterating it reads the body
    once, batch by batch; leaving it closes the response.
    """

    def __init__(
        self, spec: CollectionSpec[M], delta_link: str, *, batch_size: int, buffer_limit: int
    ) -> None:
        check_stream_options(batch_size, buffer_limit)
        self._spec = spec
        self._link = delta_link
        self._batch_size = batch_size
        self._buffer_limit = buffer_limit
        self._opened: tuple[httpx.Request, httpx.Response, Head] | None = None
        self._reader: ChangeReader[M] | None = None

    @property
    def delta_link(self) -> str | None:
        """The deltaLink to keep for the next call: set once every batch was handed
        out (the body was read to its end and checked), None until then."""
        return None if self._reader is None else self._reader.delta_link

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._spec.name!r}>"

    def _open(self, protocol: Protocol) -> Flow[tuple[httpx.Request, httpx.Response, Head]]:
        if self._opened is not None:
            raise RuntimeError("this delta stream is open already")
        return protocol.open_stream(self._link, self._buffer_limit)

    def _start(self) -> tuple[ChangeReader[M], Head]:
        """The reader of the opened response and its head; once only."""
        if self._opened is None:
            raise RuntimeError("open the stream first: with ....stream_delta(link) as stream")
        if self._reader is not None:
            raise RuntimeError("a delta stream can be read once")
        request, response, head = self._opened
        reader = ChangeReader(self._spec.parse, request, response, batch_size=self._batch_size)
        self._reader = reader
        return reader, head

    def _broken(self, failure: httpx.TransportError) -> TransportError:
        """The SDK's error for a body that broke off after its head (not retried here:
        batches were handed out; read the link again)."""
        assert self._opened is not None
        return transport_error(self._opened[0], failure)
