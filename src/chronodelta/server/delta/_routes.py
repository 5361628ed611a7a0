"""Delta routes: ``&delta`` on a list starts one, ``/delta/{collection}`` reads changes.

The rules are the delta service's (``_service.py``); these only parse and serialize.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from chronodelta.domain import API_PREFIX
from chronodelta.server._errors import NotFound
from chronodelta.server._models import ErrorBody
from chronodelta.server._services import services
from chronodelta.server.auth._access import bearer_scheme, check_access
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._tracked import TRACKED, TrackedCollection

router = APIRouter(tags=["delta"])
DeltaFlag = Annotated[
    str | None,
    Query(description="Present (no value needed): start a delta; the last page has deltaLink"),
]
DeltaToken = Annotated[str | None, Query(description="From a delta's nextLink")]


def snapshot_response(
    request: Request, principal: Principal, tracked: TrackedCollection, query: SnapshotQuery
) -> Response:
    """A page of a delta's initial snapshot: the first one starts the delta."""
    body = services(request).delta.snapshot_page(principal, tracked, query)
    return Response(body, media_type="application/json")


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
    changes = services(request).delta.changes(principal, tracked, deltaToken)
    # The body was read whole before this point: streaming it can no longer fail.
    return StreamingResponse(
        changes.feed.chunks(changes.delta_link),
        media_type="application/json",
        headers={"Content-Length": str(changes.feed.content_length(changes.delta_link))},
    )
