"""Query text: filters, external references, and links resolved against the base URL.

The first request of a list or delta is written the way the vendor's pages write it
(seed 000: ``?filter=date%20ge%20'2025-12-01'&delta&externalReferences=(people,@badge-number)``):
spaces and anything a URL cannot carry are percent-encoded, quotes, parentheses,
commas and ``@`` stay readable, and ``delta`` is a bare flag. Every later request
follows a link from the server, unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import quote

import httpx

from chronodelta.domain import API_PREFIX

_SAFE = "'(),@:"

ExternalReferences = str | Sequence[tuple[str, str]]


def format_external_references(references: ExternalReferences) -> str:
    """``[("people", "@badge-number"), ("terminals", "@external-code")]`` ->
    ``(people,@badge-number)(terminals,@external-code)``; text is passed through."""
    if isinstance(references, str):
        return references
    parts = []
    for pair in references:
        if len(pair) != 2:
            raise ValueError(f"an external reference is a (collection, reference) pair: {pair!r}")
        collection, reference = pair
        for part in (collection, reference):
            if not part or any(ch in part for ch in "(),"):
                raise ValueError(f"invalid external reference part {part!r}")
        parts.append(f"({collection},{reference})")
    return "".join(parts)


def _constant(value: int | str | dt.date) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans are not filter values here")
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, dt.date) else value
    return "'" + text.replace("'", "''") + "'"


def _membership(name: str, value: int | str | Sequence[int] | Sequence[str]) -> str:
    if isinstance(value, int | str):
        return f"{name} eq {_constant(value)}"
    values: list[int | str] = list(value)
    if not values:
        raise ValueError(f"{name}: give at least one value")
    return f"{name} in (" + ",".join(_constant(v) for v in values) + ")"


def _named(person_in: str, ids: int | Sequence[int]) -> str:
    values = [ids] if isinstance(ids, int) else list(ids)
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{person_in}: give one or more integer ids")
    return f"person in {person_in}(" + ",".join(str(v) for v in values) + ")"


def date_filter(
    start: dt.date | str,
    end: dt.date | str | None = None,
    *,
    person: int | Sequence[int] | None = None,
    kind: str | Sequence[str] | None = None,
    circle: int | Sequence[int] | None = None,
    org_group: int | Sequence[int] | None = None,
    org_tree: int | Sequence[int] | None = None,
) -> str:
    """Filter text in the vendor's grammar for a date range and optional person/kind.

    ``date_filter("2026-01-01", "2026-01-31", kind=["InOut", "Reason"])`` gives
    ``date ge '2026-01-01' and date le '2026-01-31' and kind in ('InOut','Reason')``.
    Without ``end`` a list covers a year from ``start`` and a delta has no end.
    ``circle``, ``org_group`` and ``org_tree`` select people by their circles, org
    groups, or org groups with every group below (``person in org-tree(4)``); each
    given narrows the others. (A delta may not filter on people; the server says so
    with a 400.)
    """
    conditions = [f"date ge {_constant(start)}"]
    if end is not None:
        conditions.append(f"date le {_constant(end)}")
    if person is not None:
        conditions.append(_membership("person", person))
    for name, ids in (("circle", circle), ("org-group", org_group), ("org-tree", org_tree)):
        if ids is not None:
            conditions.append(_named(name, ids))
    if kind is not None:
        conditions.append(_membership("kind", kind))
    return " and ".join(conditions)


def collection_url(
    collection: str,
    *,
    filter: str | None = None,
    external_references: ExternalReferences = (),
    delta: bool = False,
) -> str:
    """Path and query of a list (or delta start) request."""
    query = []
    if filter:
        query.append("filter=" + quote(filter, safe=_SAFE))
    if delta:
        query.append("delta")
    references = format_external_references(external_references)
    if references:
        query.append("externalReferences=" + quote(references, safe=_SAFE))
    path = f"{API_PREFIX}/{collection}"
    return f"{path}?{'&'.join(query)}" if query else path


def record_url(
    collection: str, record_id: int | str, external_references: ExternalReferences = ()
) -> str:
    """``record_id``: an integer, or text (a GUID, an external reference), quoted."""
    if record_id == "":
        raise ValueError("record_id must not be empty")
    shown = quote(record_id, safe="") if isinstance(record_id, str) else int(record_id)
    path = f"{API_PREFIX}/{collection}/{shown}"
    references = format_external_references(external_references)
    return f"{path}?externalReferences={quote(references, safe=_SAFE)}" if references else path


def reference_url(
    collection: str, reference: str, value: str, external_references: ExternalReferences = ()
) -> str:
    """``GET /<collection>/<value>?externalReferences=(<collection>,<reference>)...``: the
    record whose own ``reference`` has ``value`` (contract, "Addressing by reference");
    ``external_references`` are added after that pair."""
    if not value:
        raise ValueError("give the reference's value")
    own = format_external_references([(collection, reference)])
    more = format_external_references(external_references)
    path = f"{API_PREFIX}/{collection}/{quote(value, safe='')}"
    return f"{path}?externalReferences={quote(own + more, safe=_SAFE)}"


def origin(url: httpx.URL) -> tuple[bytes, bytes, int | None]:
    return (url.raw_scheme, url.raw_host, url.port)


def resolve(base: httpx.URL, link: str) -> httpx.URL:
    """The absolute URL of ``link`` (a path such as a ``nextLink``) under ``base``.

    A path is taken below ``base``'s own path, as httpx's ``base_url`` does. An absolute
    link must have ``base``'s scheme, host and port: the client never sends its token
    to another server. Raises ValueError otherwise.
    """
    url = httpx.URL(link)
    if url.is_absolute_url:
        if origin(url) != origin(base):
            raise ValueError(f"refusing a link to another server: {url.scheme}://{url.host}")
        return url
    if url.is_relative_url and (url.host or url.scheme):
        # Only where it points: its query may hold a delta or continuation token.
        raise ValueError(f"not a link of this API: it names a host ({url.host!r})")
    prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/")
    return base.copy_with(raw_path=prefix + b"/" + url.raw_path.lstrip(b"/"))
