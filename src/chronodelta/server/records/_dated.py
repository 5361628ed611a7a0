"""What the dated collections share: clockings, paid presences, activity durations.

Each has a list (a filter with a date range, paging, ``&delta`` to start a delta) and
a get by id, and both take ``externalReferences`` (seeds 001-003).
"""

from __future__ import annotations

from collections.abc import Callable
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
from chronodelta.server._services import services
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import snapshot_response
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._backend import References
from chronodelta.server.records._lists import page_response, position
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
    canonical = criteria.canonical()
    start = position(found, continuation, principal.tenant_id, tracked.name, canonical)
    page = list_page(
        principal.tenant_id, criteria, start.key, found.settings.page_size, external_references
    )
    return page_response(
        found,
        start=start,
        path=tracked.info.path,
        tenant_id=principal.tenant_id,
        collection=tracked.name,
        records=page.records,
        next_key=page.next_key,
        filter_text=filter_text,
        canonical_filter=canonical,
        external_references=external_references,
    )
