"""Routes of the clockings collection: parse, call the backend once, serialize.

A write body may name its records by external reference; the backend resolves them
inside the write's own transaction (``_clockings.draft_from_body``).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import Response

from chronodelta.domain import (
    CLOCKINGS,
    Scope,
)
from chronodelta.server._models import Clocking as ClockingModel
from chronodelta.server._models import ClockingBody, ErrorBody, Id, page_model
from chronodelta.server._services import services
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import DeltaFlag, DeltaToken
from chronodelta.server.records._clockings import etag, etag_matches
from chronodelta.server.records._dated import dated_list_response, external_references_query
from chronodelta.server.records._tracked import TRACKED

router = APIRouter(tags=["clockings"])
READ = Depends(require_scope(Scope.CLOCKINGS_READ))
WRITE = Depends(require_scope(Scope.CLOCKINGS_WRITE))
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 414, 429)
}
ClockingId = Annotated[Id, Path(description="The clocking's id")]
FilterText = Annotated[
    str | None,
    Query(
        json_schema_extra={"minLength": 1},
        description="Required: date range of at most a year, e.g. "
        "date ge '2026-01-01' and date le '2026-01-31' (a start alone lists a year); "
        "optionally person (also person in circle(1, 2), org-group(...), org-tree(...)), kind"
    ),
]
Token = Annotated[str | None, Query(description="From the previous page's nextLink")]
ExternalReferencesText = Annotated[str | None, external_references_query(CLOCKINGS.name)]


@router.get(
    CLOCKINGS.path,
    summary="Retrieve a list of clockings",
    response_class=Response,
    responses={200: {"model": page_model(ClockingModel)}, **ERRORS},
)
def list_clockings(
    request: Request,
    principal: Principal = READ,
    filter: FilterText = None,
    continuationToken: Token = None,
    delta: DeltaFlag = None,
    deltaToken: DeltaToken = None,
    externalReferences: ExternalReferencesText = None,
) -> Response:
    return dated_list_response(
        request,
        principal,
        TRACKED["clockings"],
        services(request).backend.list_clockings,
        filter_text=filter,
        continuation=continuationToken,
        delta=delta,
        delta_token=deltaToken,
        external_references=externalReferences,
    )


@router.get(
    CLOCKINGS.path + "/{clocking_id}",
    summary="Retrieve a clocking",
    response_class=Response,
    responses={200: {"model": ClockingModel}, 304: {"description": "Not modified"}, **ERRORS},
)
def get_clocking(
    request: Request,
    clocking_id: ClockingId,
    principal: Principal = READ,
    if_none_match: Annotated[str | None, Header()] = None,
    externalReferences: ExternalReferencesText = None,
) -> Response:
    backend = services(request).backend
    record = backend.get_clocking(principal.tenant_id, clocking_id, externalReferences)
    return _record_response(record, if_none_match=if_none_match)


@router.post(
    CLOCKINGS.path,
    summary="Create a clocking",
    status_code=201,
    response_class=Response,
    responses={201: {"model": ClockingModel}, **ERRORS},
)
def create_clocking(request: Request, body: ClockingBody, principal: Principal = WRITE) -> Response:
    record = services(request).backend.create_clocking(principal.tenant_id, body)
    response = _record_response(record, status_code=201)
    response.headers["Location"] = f"{CLOCKINGS.path}/{record['id']}"
    return response


@router.put(
    CLOCKINGS.path + "/{clocking_id}",
    summary="Replace a clocking",
    response_class=Response,
    responses={200: {"model": ClockingModel}, **ERRORS},
)
def update_clocking(
    request: Request,
    clocking_id: ClockingId,
    body: ClockingBody,
    principal: Principal = WRITE,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    record = services(request).backend.update_clocking(
        principal.tenant_id, clocking_id, body, if_match
    )
    return _record_response(record)


@router.delete(
    CLOCKINGS.path + "/{clocking_id}",
    summary="Delete a clocking (it stays, with status Deleted)",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **ERRORS},
)
def delete_clocking(
    request: Request,
    clocking_id: ClockingId,
    principal: Principal = WRITE,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    services(request).backend.delete_clocking(principal.tenant_id, clocking_id, if_match)
    return Response(status_code=204)


def _record_response(
    record: dict[str, Any], *, status_code: int = 200, if_none_match: str | None = None
) -> Response:
    version = int(record["changeVersion"], 16)
    headers = {"ETag": etag(version)}
    if if_none_match is not None and etag_matches(if_none_match, version):
        return Response(status_code=304, headers=headers)
    return Response(
        orjson.dumps(record),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
