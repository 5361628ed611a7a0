"""Routes of the clockings collection: parse, call the backend, serialize."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import Response

from chronodelta.domain import (
    CLOCKINGS,
    CLOCKINGS_FILTER,
    ActivityLevel,
    ClockingDraft,
    FilterError,
    Scope,
    compile_filter,
)

from .._auth import Principal
from .._backend import etag, etag_matches
from .._errors import BadRequest
from .._models import Clocking as ClockingModel
from .._models import ClockingBody, ErrorBody, Id, page_model
from .._security import require_scope
from .._services import services
from .._tracked import TRACKED
from ._delta import DeltaFlag, DeltaToken, snapshot_response
from ._lists import page_response, position

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
        description="Required: date range of at most a year, e.g. "
        "date ge '2026-01-01' and date le '2026-01-31'; optionally person, kind"
    ),
]
Token = Annotated[str | None, Query(description="From the previous page's nextLink")]


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
) -> Response:
    if delta is not None or deltaToken is not None:
        return snapshot_response(
            request,
            principal,
            TRACKED["clockings"],
            filter_text=filter,
            continuation=continuationToken,
            delta_token=deltaToken,
        )
    found = services(request)
    try:
        criteria = compile_filter(filter, CLOCKINGS_FILTER, mode="list", today=dt.date.today())
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None
    canonical = criteria.canonical()
    after = position(found, continuationToken, principal.tenant_id, "clockings", canonical)
    page = found.backend.list_clockings(
        principal.tenant_id, criteria, after, found.settings.page_size
    )
    return page_response(
        found,
        path=CLOCKINGS.path,
        tenant_id=principal.tenant_id,
        collection="clockings",
        records=page.records,
        next_key=page.next_key,
        filter_text=filter,
        canonical_filter=canonical,
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
) -> Response:
    record = services(request).backend.get_clocking(principal.tenant_id, clocking_id)
    return _record_response(record, if_none_match=if_none_match)


@router.post(
    CLOCKINGS.path,
    summary="Create a clocking",
    status_code=201,
    response_class=Response,
    responses={201: {"model": ClockingModel}, **ERRORS},
)
def create_clocking(request: Request, body: ClockingBody, principal: Principal = WRITE) -> Response:
    record = services(request).backend.create_clocking(principal.tenant_id, to_draft(body))
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
        principal.tenant_id, clocking_id, to_draft(body), if_match
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


def to_draft(body: ClockingBody) -> ClockingDraft:
    return ClockingDraft(
        person_id=body.person.id,
        date=body.date,
        time_of_day=body.timeOfDayInMinutes,
        kind=body.kind,
        terminal_id=body.terminal.id if body.terminal else None,
        longitude=body.geolocation.longitude if body.geolocation else None,
        latitude=body.geolocation.latitude if body.geolocation else None,
        reason_id=body.reason.id if body.reason else None,
        is_open=body.isOpen,
        activity_levels=tuple(
            ActivityLevel(lv.level, lv.activityDefinition.id) for lv in body.activityLevels or ()
        ),
    )


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
