"""The byte-level scanner of streamed delta bodies (``client/_scan.py``): fed any body in
any pieces, it yields exactly what ``orjson.loads`` of the whole body gives (issue 14,
item 3: "the new parser yields exactly what orjson.loads of the whole body gives"), holds
no more than a piece and the largest item, and refuses a cut or malformed body."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chronodelta.client import InvalidResponse
from chronodelta.client._scan import NotJson, ValueItems

Json = Any

# Text that attacks the scanner: the separator it learns, brackets, quotes, escapes.
NASTY = [',{"changeType"', '},{"changeType":', "]", "[", "{", "}", '"', "\\", '\\"', ",", ":"]
KEYS = st.sampled_from(["changeType", "data", "value", "deltaLink", "id", "é", '"q"', "a\\b"])
TEXT = st.one_of(
    st.text(max_size=12), st.sampled_from(NASTY), st.lists(st.sampled_from(NASTY)).map("".join)
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(KEYS, TEXT), inner, max_size=4)
    ),
    max_leaves=12,
)
# Changes as the server writes them (the hinted way), and anything else JSON allows.
CHANGES = st.fixed_dictionaries(
    {"changeType": st.sampled_from(["InsertOrUpdate", "Delete"]), "data": VALUES}
)
ITEMS = st.one_of(CHANGES, CHANGES, VALUES)
OTHERS = st.dictionaries(
    st.one_of(KEYS, TEXT).filter(lambda key: key != "value"), VALUES, max_size=3
)
SPACES = st.lists(st.sampled_from(["", "", " ", "\n   ", "\t", "\r\n"]), min_size=1, max_size=5)


class Writer:
    """JSON text with the whitespace between tokens drawn from ``spaces`` in turn, and
    strings written with or without ASCII escapes."""

    def __init__(self, spaces: Sequence[str], ascii_only: bool) -> None:
        self._spaces = itertools.cycle(spaces)
        self._ascii = ascii_only

    def ws(self) -> str:
        return next(self._spaces)

    def value(self, value: Json) -> str:
        if isinstance(value, dict):
            return self.members(value.items())
        if isinstance(value, list):
            inner = ("," + self.ws()).join(
                self.ws() + self.value(item) + self.ws() for item in value
            )
            return "[" + inner + "]"
        return json.dumps(value, ensure_ascii=self._ascii)

    def members(self, members: Iterable[tuple[str, Json]]) -> str:
        parts = [
            self.ws()
            + self.value(key)
            + self.ws()
            + ":"
            + self.ws()
            + self.value(value)
            + self.ws()
            for key, value in members
        ]
        return "{" + ",".join(parts) + "}"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """A delta-like response: ``value``, perhaps ``deltaLink``, other keys, in any order."""
    members: list[tuple[str, Json]] = [("value", draw(st.lists(ITEMS, max_size=8)))]
    members += list(draw(OTHERS).items())
    if draw(st.booleans()):
        members.append(("deltaLink", draw(TEXT)))
    order = draw(st.permutations(members))
    writer = Writer(draw(SPACES), draw(st.booleans()))
    return (writer.ws() + writer.members(order) + writer.ws()).encode()


def pieces(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


def scanned(parts: Iterable[bytes]) -> tuple[list[Json], dict[str, Json]]:
    scanner = ValueItems()
    items = [item for part in parts for item in scanner.feed(part)]
    items += scanner.close()
    return items, scanner.top


def whole(data: bytes) -> tuple[list[Json], dict[str, Json]]:
    """What the scanner must give: orjson's reading of the whole body."""
    decoded = orjson.loads(data)
    return decoded.pop("value"), decoded


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(data=bodies(), cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12))
def test_any_body_split_anywhere_gives_what_orjson_gives_for_the_whole(
    data: bytes, cuts: list[int]
) -> None:
    assert scanned(pieces(data, cuts)) == whole(data)


@settings(max_examples=60, deadline=None)
@given(data=bodies())
def test_a_body_fed_byte_by_byte_gives_the_same(data: bytes) -> None:
    # Every byte boundary at once: inside strings, escapes, numbers, between tokens.
    assert scanned(data[at : at + 1] for at in range(len(data))) == whole(data)


def test_every_two_piece_split_of_a_tricky_body_gives_the_same() -> None:
    items = [
        {"changeType": "InsertOrUpdate", "data": {"note": 'a ",{"changeType" \\ é 😀 \u0001'}},
        {"changeType": "Delete", "data": {"id": -12.5e-3, "list": [{"changeType": [1, {}]}]}},
        "a string item",
        1234567890123,
        [True, None, False],
        {"changeType": "Delete", "data": {"id": 2}},
    ]
    data = (
        Writer([" ", "", "\n"], ascii_only=True)
        .members([("@odata.context", "x[]{}"), ("value", items), ("deltaLink", "/next")])
        .encode()
    )
    for cut in range(len(data) + 1):
        assert scanned([data[:cut], data[cut:]]) == whole(data), cut


def test_items_nested_deeper_than_the_regex_reaches_are_measured_exactly() -> None:
    deep: Json = {"changeType": "Delete", "data": {"id": 1}}
    for _ in range(40):
        deep = {"changeType": "InsertOrUpdate", "data": [deep, "]}"]}
    data = orjson.dumps({"value": [deep, deep, {"id": 3}], "deltaLink": "/x"})
    assert scanned(pieces(data, range(0, len(data), 97))) == whole(data)


def test_memory_holds_a_piece_and_the_largest_item_not_the_body() -> None:
    small = [
        {"changeType": "Delete", "data": {"id": n, "pad": "x" * (n % 50)}} for n in range(20_000)
    ]
    large = {"changeType": "InsertOrUpdate", "data": {"blob": "y" * 200_000}}
    data = orjson.dumps({"value": [*small, large, *small], "deltaLink": "/x"})
    piece, largest = 4096, len(orjson.dumps(large))
    scanner = ValueItems()
    count, held = 0, 0
    for part in pieces(data, range(0, len(data), piece)):
        count += len(scanner.feed(part))
        held = max(held, scanner.buffered)
    count += len(scanner.close())
    assert count == 40_001
    # The doubling rule may keep up to twice a partial item before it looks again.
    assert held <= 2 * largest + 2 * piece < len(data) // 2


# ---- cut and malformed bodies ----------------------------------------------------------


@FAST
@given(data=bodies(), at=st.integers(min_value=0))
def test_a_body_cut_anywhere_is_not_json(data: bytes, at: int) -> None:
    cut = data[: at % len(data.rstrip())]
    with pytest.raises(NotJson):
        scanned(pieces(cut, [len(cut) // 2]))


MUTATIONS = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b" ", b"0", b"-", b"e", b"\xff", b"x"]


def reference(data: bytes) -> tuple[list[Json], dict[str, Json]] | type[Exception]:
    """orjson's verdict on a whole body, as the scanner must give it."""
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError:
        return NotJson
    if not isinstance(decoded, dict) or not isinstance(decoded.get("value"), list):
        return InvalidResponse
    keys = json.loads(data, object_pairs_hook=lambda pairs: [key for key, _ in pairs])
    if keys.count("value") != 1:
        return InvalidResponse  # a second value list cannot be honoured as it streams
    return whole(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=bodies(),
    at=st.integers(min_value=0),
    mutation=st.sampled_from(MUTATIONS),
    how=st.sampled_from(["insert", "replace", "delete"]),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
)
def test_a_malformed_body_is_refused_as_orjson_refuses_it(
    data: bytes, at: int, mutation: bytes, how: str, cuts: list[int]
) -> None:
    at %= len(data)
    tail = data[at:] if how == "insert" else data[at + 1 :]
    broken = data[:at] + (b"" if how == "delete" else mutation) + tail
    expected = reference(broken)
    if isinstance(expected, type):
        # A body that is not JSON may also be refused as not the contract's object
        # first: both are InvalidResponse to the caller (NotJson is named there).
        errors = (NotJson, InvalidResponse) if expected is NotJson else (InvalidResponse,)
        with pytest.raises(errors):
            scanned(pieces(broken, cuts))
    else:
        assert scanned(pieces(broken, cuts)) == expected


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NotJson),
        (b"   ", NotJson),
        (b"[]", InvalidResponse),
        (b"<html></html>", InvalidResponse),
        (b'{"deltaLink": "/x"}', InvalidResponse),
        (b'{"value": {}, "deltaLink": "/x"}', InvalidResponse),
        (b'{"value": [], "value": [], "deltaLink": "/x"}', InvalidResponse),
        (b'{"value": [1,], "deltaLink": "/x"}', NotJson),
        (b'{"value": [1 2], "deltaLink": "/x"}', NotJson),
        (b'{"value": [], "deltaLink": "/x",}', NotJson),
        (b'{"value": [], deltaLink: "/x"}', NotJson),
        (b'{"value" [], "deltaLink": "/x"}', NotJson),
        (b'{"value": [{"a": "\xff"}], "deltaLink": "/x"}', NotJson),
        (b'{"value": [{"a": 1]], "deltaLink": "/x"}', NotJson),
        (b'{"value": [], "deltaLink": "/x"} {}', NotJson),
        (b'{"value": [], "deltaLink": "/x"', NotJson),
        (b'{"value": [{"a": "\\ud800"}], "deltaLink": "/x"}', NotJson),
    ],
)
def test_bodies_outside_json_or_the_contract(data: bytes, error: type[Exception]) -> None:
    assert reference(data) is error or error is InvalidResponse
    for size in (1, 3, len(data) or 1):
        with pytest.raises(error):
            scanned(pieces(data, range(0, len(data), size)))
