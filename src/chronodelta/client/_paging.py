"""Pages, delta changes, and the state of following links (no I/O).

A list answers ``{"value": [...], "nextLink"?}``; follow ``nextLink`` until it is
absent (an empty ``value`` is not the end). A delta's snapshot pages are the same
with ``deltaLink`` on the last page instead of ``nextLink``. A deltaLink answers
``{"value": [{"changeType", "data"}], "deltaLink"}`` in one response.

Each response becomes one object (``Page`` or ``DeltaChanges``) that carries the link
to fetch next, so that a caller can store a response's records and that link in one
transaction and resume from the link after a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._exceptions import InvalidResponse

M = TypeVar("M")
Wire = dict[str, Any]

INSERT_OR_UPDATE = "InsertOrUpdate"
DELETE = "Delete"


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One response of a list or of a delta's snapshot.

    ``next_link`` is set on every page but the last. On a delta's last snapshot page
    ``delta_link`` is set instead: store it and call ``follow_delta`` with it later.
    """

    records: tuple[M, ...]
    next_link: str | None = None
    delta_link: str | None = None

    @property
    def link(self) -> str | None:
        """The link to keep after storing this page: ``next_link`` or ``delta_link``."""
        return self.next_link if self.next_link is not None else self.delta_link

    @property
    def is_last(self) -> bool:
        return self.next_link is None


@dataclass(slots=True)
class Change(Generic[M]):
    """One item of a delta response.

    ``record`` is the whole record for ``InsertOrUpdate`` and None for ``Delete``
    (whose data has only ``changeVersion`` and ``id``). A soft-deleted clocking is an
    ``InsertOrUpdate`` whose record has status ``Deleted``. ``raw`` is the item's
    ``data`` as received.
    """

    change_type: str
    id: int
    change_version: str
    record: M | None
    raw: Wire = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_delete(self) -> bool:
        return self.change_type == DELETE


@dataclass(frozen=True, slots=True)
class DeltaChanges(Generic[M]):
    """One deltaLink response: the changes since the link, in order, and the next link.

    Apply ``changes`` (skipping any whose ``change_version`` is older than what you
    hold for the same id: the first call of a delta repeats recent changes on purpose),
    then keep ``delta_link`` for the next poll, in the same transaction.
    """

    changes: tuple[Change[M], ...]
    delta_link: str


def _body_object(body: object, what: str) -> Wire:
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise InvalidResponse(f"{what} is not an object with a 'value' list")
    return body


def _link(body: Wire, name: str) -> str | None:
    link = body.get(name)
    if link is None:
        return None
    if not isinstance(link, str) or not link:
        raise InvalidResponse(f"{name} is not a non-empty string")
    return link


def parse_records(items: list[Any], parse: Callable[[Wire], M]) -> tuple[M, ...]:
    try:
        return tuple(map(parse, items))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidResponse(f"a record does not have the contract's shape: {exc!r}") from exc


def parse_record(item: object, parse: Callable[[Wire], M]) -> M:
    if not isinstance(item, dict):
        raise InvalidResponse("the record is not a JSON object")
    return parse_records([item], parse)[0]


def parse_page(body: object, parse: Callable[[Wire], M], *, delta: bool) -> Page[M]:
    page = _body_object(body, "the page")
    next_link = _link(page, "nextLink")
    delta_link = _link(page, "deltaLink") if delta else None
    if delta and (next_link is None) == (delta_link is None):
        raise InvalidResponse("a delta snapshot page needs exactly one of nextLink and deltaLink")
    return Page(parse_records(page["value"], parse), next_link, delta_link)


def parse_changes(body: object, parse: Callable[[Wire], M]) -> DeltaChanges[M]:
    response = _body_object(body, "the delta response")
    delta_link = delta_link_of(response)
    return DeltaChanges(tuple(parse_change_items(response["value"], parse)), delta_link)


def delta_link_of(response: Wire) -> str:
    delta_link = _link(response, "deltaLink")
    if delta_link is None:
        raise InvalidResponse("the delta response has no deltaLink")
    return delta_link


def parse_change_items(items: Iterable[Any], parse: Callable[[Wire], M]) -> list[Change[M]]:
    """The items of a delta response's ``value`` as ``Change``s, checked.

    One loop over many items rather than a call per item: it runs a million times
    for a large delta (``_stream`` calls it once per piece of the body).
    """
    changes: list[Change[M]] = []
    try:
        for item in items:
            change_type, data = item["changeType"], item["data"]
            if change_type == INSERT_OR_UPDATE:
                record: M | None = parse(data)
            elif change_type == DELETE:
                record = None
            else:
                raise InvalidResponse(f"unknown changeType {change_type!r}")
            changes.append(Change(change_type, data["id"], data["changeVersion"], record, data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidResponse(f"a change does not have the contract's shape: {exc!r}") from exc
    return changes


class Pager(Generic[M]):
    """Where a paged read stands: the link to fetch next, or done.

    ``accept`` takes each decoded response in turn. A ``nextLink`` equal to the link
    just fetched would loop forever; it raises ``InvalidResponse`` instead.
    """

    def __init__(self, first_link: str, parse: Callable[[Wire], M], *, delta: bool) -> None:
        self.link: str | None = first_link
        self._parse = parse
        self._delta = delta

    def accept(self, body: object) -> Page[M]:
        if self.link is None:
            raise RuntimeError("the pager is done")
        page = parse_page(body, self._parse, delta=self._delta)
        if page.next_link is not None and page.next_link == self.link:
            raise InvalidResponse("the nextLink repeats the link just followed")
        self.link = page.next_link
        return page
