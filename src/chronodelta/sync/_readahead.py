"""A delta response's batches read one ahead, in a thread, while the mirror applies.

Snapshot pages are fetched ahead (``_runner.prefetch``) so that the server's time and the
mirror's overlap; a deltaLink response is one body, so here the unit read ahead is a
batch: while the mirror writes batch n, a thread reads and decodes batch n + 1 from the
same response (issue 14, item 3: "prefetch delta responses as snapshot pages are").
The body's socket reads and SQLite's statements release the GIL, so the two overlap.

Bounded: one batch waits in the queue and one is being read, whatever the response's
size. The response is read by that one thread only, and the thread has ended when
iteration ends, however it ends, so the caller can then close the response safely.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ._mirror import ChangeBatches

_DONE = object()
# How often the reader, waiting to hand a batch over, looks whether the applier left.
_POLL_SECONDS = 0.2


class BatchesAhead:
    """``batches`` (a ``stream_delta`` stream) read one batch ahead; a ``ChangeBatches``.

    An exception of the stream (a body that breaks off: ``TransportError``) comes out
    of the iteration where the batch would have. ``delta_link`` is the stream's, set
    once the last batch was handed out.
    """

    def __init__(self, batches: ChangeBatches) -> None:
        self._batches = batches

    @property
    def delta_link(self) -> str | None:
        return self._batches.delta_link

    def __iter__(self) -> Iterator[Sequence[Any]]:
        box: queue.Queue[Any] = queue.Queue(maxsize=1)
        gone = threading.Event()
        thread = threading.Thread(
            target=self._read, args=(box, gone), name="sync-delta-readahead", daemon=True
        )
        thread.start()
        try:
            while (item := box.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            gone.set()
            thread.join()  # the response is the caller's to close once this returns

    def _read(self, box: queue.Queue[Any], gone: threading.Event) -> None:
        def hand_over(item: Any) -> bool:
            while not gone.is_set():
                try:
                    box.put(item, timeout=_POLL_SECONDS)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            for batch in self._batches:
                if not hand_over(batch):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # raised in the applier's thread
            hand_over(exc)
