"""What the dated collections share: clockings, paid presences, activity durations.

Each has a list (a filter with a date range, paging, ``&delta`` to start a delta) and
a get by id, and both take ``externalReferences`` (seeds 001-003).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fastapi import Query, Request
from pydantic_core import PydanticUndefined
from starlette.responses import Response

from chronodelta.domain import (
    FilterCriteria,
    FilterError,
    compile_filter,
    external_references_pattern,
)
from chronodelta.server._errors import BadRequest
from chronodelta.server._services import Services, services
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import snapshot_response
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._backend import References
from chronodelta.server.records._lists import ListStart, json_response, page_body, position
from chronodelta.server.records._read_ahead import PageBody, PageKey
from chronodelta.server.records._tracked import Page, TrackedCollection


def external_references_query(endpoint: str, *, with_default: bool = False) -> Any:
    """The ``externalReferences`` parameter of ``endpoint``'s operations, its form
    published as a pattern (issue 11: the OpenAPI document says what is accepted).
    ``with_default``: as a parameter's default value (None); inside ``Annotated`` a
    ``Query`` may have none."""
    return Query(
        None if with_default else PydanticUndefined,
        description="References to add to nested objects, e.g. "
        "(people,@badge-number)(terminals,@external-code)",
        json_schema_extra={"minLength": 1, "pattern": external_references_pattern(endpoint)},
    )


ListPage = Callable[[int, FilterCriteria, tuple[Any, ...] | None, int, References], Page]


def dated_list_response(
    request: Request,
    principal: Principal,
    tracked: TrackedCollection,
    list_page: ListPage,
    *,
    filter_text: str | None,
    continuation: str | None,
    delta: str | None,
    delta_token: str | None,
    external_references: str | None,
) -> Response:
    """A list page, or with ``delta``/``deltaToken`` a page of a delta's snapshot."""
    if delta is not None or delta_token is not None:
        query = SnapshotQuery(filter_text, continuation, delta_token, external_references)
        return snapshot_response(request, principal, tracked, query)
    found = services(request)
    assert tracked.filter_spec is not None
    try:
        criteria = compile_filter(
            filter_text, tracked.filter_spec, mode="list", today=principal.clock.today()
        )
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None
    walk = DatedWalk(
        found, tracked, list_page, principal.tenant_id, criteria, filter_text, external_references
    )
    start = position(found, principal, continuation, tracked.name, walk.canonical)
    page = found.read_ahead.take(
        walk.key(start.key), start.stamp, wait=found.settings.db_busy_timeout
    ) or walk.read(start)
    if page.next_key is not None:
        walk.read_ahead(page.next_key)
    return json_response(page.body)


@dataclass(frozen=True)
class DatedWalk:
    """The pages of one dated list walk, as one request asks for them: read now, or
    read ahead for the request that will follow its ``nextLink`` (``_read_ahead.py``)."""

    found: Services
    tracked: TrackedCollection
    list_page: ListPage
    tenant_id: int
    criteria: FilterCriteria
    filter_text: str | None
    external_references: str | None

    @cached_property
    def canonical(self) -> str:
        """The filter's canonical text (each page's key, token and link use it)."""
        return self.criteria.canonical()

    def key(self, after: tuple[Any, ...] | None) -> PageKey:
        return PageKey(
            self.tenant_id,
            self.tracked.name,
            self.canonical,
            after,
            self.found.settings.page_size,
            self.external_references,
        )

    def read(self, start: ListStart) -> PageBody:
        """The page at ``start``, read now (``start.stamp`` was read before it)."""
        page = self.list_page(
            self.tenant_id,
            self.criteria,
            start.key,
            self.found.settings.page_size,
            self.external_references,
        )
        body = page_body(
            self.found,
            start=start,
            path=self.tracked.info.path,
            tenant_id=self.tenant_id,
            collection=self.tracked.name,
            records=page.records,
            next_key=page.next_key,
            filter_text=self.filter_text,
            canonical_filter=self.canonical,
            external_references=self.external_references,
        )
        return PageBody(start.stamp, body, page.next_key)

    def read_ahead(self, after: tuple[Any, ...]) -> None:
        """Read the page after ``after`` in the background, its stamp first."""
        self.found.read_ahead.read_next(
            self.key(after), self.found.engine, lambda stamp: self.read(ListStart(after, stamp))
        )
