"""The client's previous streamed-delta parser, kept for ``bench.delta_parse`` only.

Until issue 14 (item 3), ``client/_stream.py`` parsed a long deltaLink body with
ijson's C backend (``yajl2_c``), a token-level parser: this is its ``_Incremental``,
as it was at commit b02a7b3, unchanged but for the ``NotJson`` it now raises. It has the
interface of ``client._scan.ValueItems`` (``feed``, ``close``, ``top``), so the benchmark
can put it in the new scanner's place and measure both on the same body in one run.
ijson is a dev dependency for this reason alone.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import ijson  # type: ignore[import-untyped]  # no stubs

from chronodelta.client import InvalidResponse
from chronodelta.client._scan import NotJson

_LEADING_WHITESPACE = re.compile(rb"[ \t\r\n]*")


class _TopObject(dict[str, Any]):
    """The response's top-level object as ijson builds it; it notes its ``value``.

    ijson's builder attaches a container to its parent when the container starts and
    then fills it in place, so this object holds the ``value`` list from its ``[`` on,
    while the changes are still arriving (see ``IjsonItems``).
    """

    __slots__ = ("changes",)

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[Any] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "value":
            if self.changes is not None or type(value) is not list:
                # Twice: changes of the first list were handed out already.
                raise InvalidResponse("the delta response is not an object with one 'value' list")
            self.changes = value
        super().__setitem__(key, value)


class IjsonItems:
    """A body parsed as its bytes arrive: the changes each piece completes.

    ijson's ``items`` at one prefix would give the changes (``value.item``) but not
    the ``deltaLink``, which may come before or after them, and a second parser for it
    doubles the cost (14 to 17 µs per change each, measured; ijson 3.4 has no
    multi-prefix items). So one parser builds the whole top-level object, ``_TopObject``, and the
    changes are taken out of its ``value`` list as they are completed: ijson only
    appends to that list and fills its last item, so every item but the last is
    finished, and taking them keeps the list short. The ``map_type`` that gives
    ijson our object first and plain dicts after it is C (no Python call per record).
    """

    def __init__(self) -> None:
        self.top = _TopObject()
        maps = itertools.chain((self.top,), iter(dict, None)).__next__
        self._parser = ijson.items_coro(ijson.sendable_list(), "", map_type=maps, use_float=True)
        self._opened = False

    def feed(self, data: bytes) -> list[Any]:
        """The changes that ``data`` completed, as decoded JSON values, in order."""
        if not self._opened:
            # The first map built must be the top-level object (not one in an array).
            first = _LEADING_WHITESPACE.match(data)
            start = data[first.end() : first.end() + 1] if first else b""
            if start and start != b"{":
                raise InvalidResponse("the delta response is not an object with a 'value' list")
            self._opened = bool(start)
        try:
            self._parser.send(data)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise NotJson(str(exc)) from None
        return self._take(keep_last=True)

    def close(self) -> list[Any]:
        """The remaining changes, once the body ended; the document must be complete."""
        try:
            self._parser.close()
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise NotJson(str(exc)) from None
        if self.top.changes is None:
            raise InvalidResponse("the delta response is not an object with a 'value' list")
        return self._take(keep_last=False)

    def _take(self, *, keep_last: bool) -> list[Any]:
        changes = self.top.changes
        if not changes:
            return []
        end = len(changes) - 1 if keep_last else len(changes)
        taken = changes[:end]
        del changes[:end]
        return taken
