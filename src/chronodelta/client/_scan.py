"""The items of a response's ``value`` array as its bytes arrive, decoded by orjson (no I/O).

A large deltaLink response is one JSON object, ``{"value": [change, ...], "deltaLink"}``
(its keys in any order, others beside them). ``ValueItems`` is fed the body piece by
piece and hands back the items of ``value`` that each piece completed, in order; the
other members go to ``top``. Memory stays bounded by a piece plus the largest item.

Why not a token-level parser: ijson's C backend calls back into Python for every token
(BENCHMARKS.md, "Client: parsing large delta responses"). Here Python only finds where
items end, and orjson decodes them, many at once, in one call per piece:

* The hinted way. Items that one serializer wrote are joined alike: ``,{"changeType"``
  (``_SEPARATOR``, learnt from the first two items). ``bytes.rfind`` finds its last
  occurrence in the buffer and ``orjson.loads(b"[" + items + b"]")`` decodes what lies
  before it. If that succeeds, the guess was right: the bytes start where an item
  starts, and a list closed at the guess is valid JSON only if every value in it is
  complete, so the guess is where an item ends (the same bytes read in place give the
  same tokens). A guess inside a string or a nested object makes that list invalid:
  orjson refuses it, and the exact way takes over.
* The exact way. ``_RUN``, one regular expression, matches as many complete items
  (objects or arrays nested up to ``_NESTING`` levels) with their commas as the buffer
  holds, in one call into the C regex engine. Strings are matched whole (a bracket or
  a quote inside one is no structure) and every quantifier is possessive, so it never
  backtracks. What it cannot take (an item not yet complete, a deeper one, a string or
  a number) is measured by ``_value_end``, which steps from bracket to bracket.

The scanner only measures; validity is orjson's: the top-level syntax between items is
checked here token by token, everything inside an item by orjson. A buffer that stops
within a token is waited on, and tried again only once it has doubled (``_retry_at``),
so a huge item fed in tiny pieces still costs linear time.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ._exceptions import InvalidResponse

_WS = rb"[ \t\r\n]*+"
# A complete string: escapes are skipped as pairs, so \" and \\ end nothing.
_STRING = rb'"[^"\\]*+(?:\\[\s\S][^"\\]*+)*+"'
_NESTING = 12


def _content(depth: int) -> bytes:
    """What lies between an item's brackets, nested up to ``depth`` levels. Opening and
    closing brackets are not paired by kind: for valid JSON that changes nothing, and
    orjson rejects a mismatch when it decodes the item."""
    inner = rb'(?:[^"{}\[\]]++|' + _STRING + rb")*+"
    for _ in range(depth):
        inner = rb'(?:[^"{}\[\]]++|' + _STRING + rb"|[{\[]" + inner + rb"[}\]])*+"
    return inner


_CONTAINER = rb"[{\[]" + _content(_NESTING - 1) + rb"[}\]]"
_RUN = re.compile(_CONTAINER + rb"(?:" + _WS + rb"," + _WS + _CONTAINER + rb")*+")
_SPACE = re.compile(_WS)
_STRING_AT = re.compile(_STRING)
# Up to the next bracket or quote, complete strings included.
_TO_BRACKET = re.compile(rb'(?:[^"{}\[\]]++|' + _STRING + rb")*+")
# A number or a literal: up to the next delimiter (orjson judges what it holds).
_SCALAR = re.compile(rb"[^ \t\r\n,\]}]*+")
# What lies between two items, up to the next one's first key: ``,{"changeType"``.
_SEPARATOR = re.compile(_WS + rb"," + _WS + rb"\{" + _WS + rb'"[^"\\]*+"')

_OPEN, _CLOSE = frozenset(b"{["), frozenset(b"}]")
_NOT_AN_OBJECT = "the delta response is not an object with a 'value' list"
_NOT_ONE_LIST = "the delta response is not an object with one 'value' list"


class NotJson(ValueError):
    """The body is not one JSON document (the caller names the request)."""


def decode(data: bytes | bytearray) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise NotJson(str(exc)) from None


def _value_end(buf: bytearray, pos: int, final: bool) -> int | None:
    """Where the JSON value at ``pos`` ends; None if the buffer stops within it."""
    first = buf[pos]
    if first in _OPEN:
        return _container_end(buf, pos)
    if first == 0x22:  # '"'
        found = _STRING_AT.match(buf, pos)
        return None if found is None else found.end()
    end = _SCALAR.match(buf, pos).end()  # type: ignore[union-attr]  # matches empty
    return end if end < len(buf) or final else None


def _container_end(buf: bytearray, pos: int) -> int | None:
    depth, at, size = 0, pos, len(buf)
    while at < size:
        mark = buf[at]
        if mark in _OPEN:
            depth += 1
        elif mark in _CLOSE:
            depth -= 1
            if depth == 0:
                return at + 1
        else:
            return None  # a quote: a string that the buffer does not complete
        at = _TO_BRACKET.match(buf, at + 1).end()  # type: ignore[union-attr]
    return None


class ValueItems:
    """The items of the top-level object's ``value`` list, from its bytes piece by piece.

    ``feed(data)`` returns the items that ``data`` completed, ``close()`` the rest once
    the body ended. ``top`` holds the object's other members, each once it is complete.
    Raises ``NotJson`` for a body that is not JSON (cut short, trailing bytes, ...) and
    ``InvalidResponse`` for JSON that is not an object with one ``value`` list: a second
    one cannot be honoured, the first one's items were handed out already.
    """

    def __init__(self) -> None:
        self.top: dict[str, Any] = {}
        self.has_value = False
        self._buf = bytearray()
        self._step = self._start
        self._key = ""
        self._retry_at = 0
        self._separator: bytes | None = None
        self._items: list[Any] = []

    @property
    def buffered(self) -> int:
        """How many bytes of the body are held, not yet decoded."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data
        if len(self._buf) < self._retry_at:
            return []
        return self._advance(final=False)

    def close(self) -> list[Any]:
        items = self._advance(final=True)
        if self._step != self._end:
            raise NotJson("the body ended within the JSON document")
        if not self.has_value:
            raise InvalidResponse(_NOT_AN_OBJECT)
        return items

    def _advance(self, *, final: bool) -> list[Any]:
        buf, pos = self._buf, 0
        while True:
            pos = _SPACE.match(buf, pos).end()  # type: ignore[union-attr]  # matches empty
            moved = self._step(buf, pos, final) if pos < len(buf) else None
            if moved is None:
                break
            pos = moved
        if final and pos < len(buf):
            raise NotJson("the body ended within the JSON document")
        del buf[:pos]
        # Try a partial token again only once the bytes after it have doubled.
        self._retry_at = 2 * len(buf) + 1
        items, self._items = self._items, []
        return items

    # ---- one step per grammar position: the new position, or None to wait for more ---

    def _start(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if buf[pos] != 0x7B:  # '{'
            raise InvalidResponse(_NOT_AN_OBJECT)
        self._step = self._first_key
        return pos + 1

    def _first_key(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if buf[pos] == 0x7D:  # '}': an empty object
            self._step = self._end
            return pos + 1
        return self._member_key(buf, pos, final)

    def _member_key(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if buf[pos] != 0x22:
            raise NotJson("an object key is not a string")
        found = _STRING_AT.match(buf, pos)
        if found is None:
            return None
        self._key = decode(buf[pos : found.end()])
        self._step = self._colon
        return found.end()

    def _colon(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if buf[pos] != 0x3A:  # ':'
            raise NotJson("no ':' after an object key")
        self._step = self._member_value
        return pos + 1

    def _member_value(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if self._key == "value":
            if self.has_value or buf[pos] != 0x5B:  # '['
                raise InvalidResponse(_NOT_ONE_LIST)
            self.has_value = True
            self._step = self._first_item
            return pos + 1
        end = _value_end(buf, pos, final)
        if end is None:
            return None
        self.top[self._key] = decode(buf[pos:end])
        self._step = self._after_member
        return end

    def _after_member(self, buf: bytearray, pos: int, final: bool) -> int | None:
        mark = buf[pos]
        if mark == 0x2C:  # ','
            self._step = self._member_key
        elif mark == 0x7D:  # '}'
            self._step = self._end
        else:
            raise NotJson("no ',' or '}' after an object member")
        return pos + 1

    def _first_item(self, buf: bytearray, pos: int, final: bool) -> int | None:
        if buf[pos] == 0x5D:  # ']': no changes
            self._step = self._after_member
            return pos + 1
        return self._item(buf, pos, final)

    def _item(self, buf: bytearray, pos: int, final: bool) -> int | None:
        end = self._hinted_items(buf, pos)
        if end is None:
            end = self._exact_items(buf, pos, final)
            if end is None:
                return None
        self._step = self._after_item
        return end

    def _hinted_items(self, buf: bytearray, pos: int) -> int | None:
        """The items up to the last ``_separator`` in the buffer, if orjson decodes them
        as a list: then that is where an item ends (see the module docstring)."""
        if self._separator is None:
            return None
        cut = buf.rfind(self._separator, pos)
        if cut <= pos:
            return None
        try:
            items = orjson.loads(b"[" + buf[pos:cut] + b"]")
        except orjson.JSONDecodeError:
            self._separator = None  # a wrong guess here (or bad JSON): measure exactly
            return None
        self._items.extend(items)
        return cut

    def _exact_items(self, buf: bytearray, pos: int, final: bool) -> int | None:
        run = _RUN.match(buf, pos)
        if run is None:
            end = _value_end(buf, pos, final)
            if end is None:
                return None
            self._items.append(decode(buf[pos:end]))
            return end
        self._items.extend(decode(b"[" + buf[pos : run.end()] + b"]"))
        if self._separator is None:
            between = _SEPARATOR.match(buf, run.end())
            self._separator = None if between is None else bytes(between.group())
        return run.end()

    def _after_item(self, buf: bytearray, pos: int, final: bool) -> int | None:
        mark = buf[pos]
        if mark == 0x2C:  # ','
            self._step = self._item
        elif mark == 0x5D:  # ']'
            self._step = self._after_member
        else:
            raise NotJson("no ',' or ']' after an item of 'value'")
        return pos + 1

    def _end(self, buf: bytearray, pos: int, final: bool) -> int | None:
        raise NotJson("bytes after the JSON document")
