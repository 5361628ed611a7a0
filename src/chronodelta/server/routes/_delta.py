"""Delta routes: ``&delta`` on a list starts one, ``/delta/{collection}`` reads changes.

Contract, "Delta": the initial response is always paged; every ``nextLink`` carries the
filter, a ``continuationToken`` and a ``deltaToken``; the last page carries ``deltaLink``
instead. A deltaLink answers all changes since it in one (streamed) response with a
fresh deltaLink.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from chronodelta.domain import (
    API_PREFIX,
    ExternalReference,
    FilterCriteria,
    FilterError,
    compile_filter,
    format_external_references,
    parse_external_references,
)

from .._auth import Principal
from .._deltas import DeltaState, delta_link
from .._errors import BadRequest, NotFound
from .._models import ErrorBody
from .._paging import PagePosition, filter_digest
from .._security import bearer_scheme, check_access
from .._services import Services, services
from .._tracked import TRACKED, TrackedCollection
from ._lists import FILTER_SAFE, position

router = APIRouter(tags=["delta"])
DeltaFlag = Annotated[
    str | None,
    Query(description="Present (no value needed): start a delta; the last page has deltaLink"),
]
DeltaToken = Annotated[str | None, Query(description="From a delta's nextLink")]


def delta_filter(
    tracked: TrackedCollection, text: str | None, today: dt.date
) -> FilterCriteria | None:
    """The delta's filter under the contract's delta rules (400 with reasons otherwise).

    ``today`` is the day the delta started once it exists, so that a live delta's
    filter stays valid when the calendar moves on (say, past New Year).
    """
    if tracked.filter_spec is None:
        if text:
            raise BadRequest(reasons=[f"The {tracked.name} collection does not support filter"])
        return None
    try:
        return compile_filter(text, tracked.filter_spec, mode="delta", today=today)
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None


def snapshot_response(
    request: Request,
    principal: Principal,
    tracked: TrackedCollection,
    *,
    filter_text: str | None,
    continuation: str | None,
    delta_token: str | None,
    external_references: str | None = None,
) -> Response:
    """A page of a delta's initial snapshot: the first one starts the delta.

    The delta keeps the ``externalReferences`` it was started with (contract: they
    work with delta as with lists): its pages and change feeds all carry them.
    """
    found = services(request)
    if delta_token is None:
        criteria = delta_filter(tracked, filter_text, found.settings.today())
        canonical = criteria.canonical() if criteria is not None else ""
        references = found.backend.check_external_references(
            principal.tenant_id, tracked.name, external_references
        )
        options = {"externalReferences": format_external_references(references)}
        state = found.deltas.start(
            principal,
            tracked.name,
            filter_text or "",
            canonical,
            options if references else {},
            found.settings.today(),
        )
        after = None
    else:
        state, _ = found.deltas.resume(principal, tracked.name, delta_token, snapshot=True)
        criteria = delta_filter(tracked, filter_text, state.started_on)
        canonical = criteria.canonical() if criteria is not None else ""
        if state.filter_canonical != canonical:
            raise BadRequest(
                reasons=[
                    "The filter differs from the one this delta was started with; "
                    "follow nextLink as given"
                ]
            )
        after = position(found, continuation, principal.tenant_id, tracked.name, canonical)
        references = state_references(state)
    page = found.deltas.snapshot_page(
        tracked, state, criteria, after, found.settings.page_size, references
    )
    body: dict[str, Any] = {"value": page.records}
    if page.next_key is not None:
        body["nextLink"] = _next_link(found, tracked, state, page.next_key, filter_text)
    else:
        body["deltaLink"] = delta_link(tracked.name, found.deltas.first_changes_token(state))
    return Response(orjson.dumps(body), media_type="application/json")


def state_references(state: DeltaState) -> tuple[ExternalReference, ...]:
    """The external references a delta was started with (checked then)."""
    text = state.options.get("externalReferences")
    return parse_external_references(text, state.collection) if text else ()


def _next_link(
    found: Services,
    tracked: TrackedCollection,
    state: DeltaState,
    key: tuple[Any, ...],
    filter_text: str | None,
) -> str:
    continuation = found.pages.encode(
        state.tenant_id, tracked.name, filter_digest(state.filter_canonical), PagePosition(key)
    )
    query = [f"filter={quote(filter_text, safe=FILTER_SAFE)}"] if filter_text else []
    query += [
        f"continuationToken={continuation}",
        f"deltaToken={found.deltas.snapshot_token(state)}",
    ]
    return f"{tracked.info.path}?{'&'.join(query)}"


@router.get(
    API_PREFIX + "/delta/{collection}",
    summary="Retrieve the changes since a deltaLink",
    response_class=Response,
    responses={
        200: {"description": "Changes and a new deltaLink"},
        **{code: {"model": ErrorBody} for code in (400, 401, 404, 410, 414)},
    },
)
def read_changes(
    request: Request,
    collection: Annotated[str, Path(description="clockings, people, ...")],
    deltaToken: Annotated[str, Query(description="From the previous deltaLink")],
    credentials: Any = Depends(bearer_scheme),
) -> Response:
    tracked = TRACKED.get(collection)
    if tracked is None:
        # Refuse an anonymous caller before saying anything about what exists.
        check_access(request, credentials, None)
        raise NotFound(f"No delta collection named {collection!r}")
    principal = check_access(request, credentials, tracked.info.read_scope)
    found = services(request)
    state, at = found.deltas.resume(principal, collection, deltaToken, snapshot=False)
    criteria = delta_filter(tracked, state.filter_text, state.started_on)
    feed = found.deltas.changes(tracked, state, criteria, at, state_references(state))
    # Never step back: a replayed first link can read a high-water below the snapshot.
    reached = max(feed.high_water, at.known)
    link = delta_link(collection, found.deltas.changes_token(state, reached, reached))
    return StreamingResponse(
        feed.chunks(link),
        media_type="application/json",
        headers={"Content-Length": str(feed.content_length(link))},
    )
