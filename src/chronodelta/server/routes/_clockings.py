"""Routes of the clockings collection: parse, call the backend, serialize."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import Response

from chronodelta.domain import (
    CLOCKINGS,
    ActivityLevel,
    ClockingDraft,
    Scope,
    reference_name_problem,
)

from .._auth import Principal
from .._backend import ConnectorBackend, ReferenceLookup, etag, etag_matches
from .._errors import BadRequest
from .._models import Clocking as ClockingModel
from .._models import ClockingBody, ErrorBody, Id, RecordRef, page_model
from .._security import require_scope
from .._services import services
from .._tracked import TRACKED
from ._dated import ExternalReferencesText, dated_list_response
from ._delta import DeltaFlag, DeltaToken

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
    references = backend.check_external_references(
        principal.tenant_id, "clockings", externalReferences
    )
    record = backend.get_clocking(principal.tenant_id, clocking_id, references)
    return _record_response(record, if_none_match=if_none_match)


@router.post(
    CLOCKINGS.path,
    summary="Create a clocking",
    status_code=201,
    response_class=Response,
    responses={201: {"model": ClockingModel}, **ERRORS},
)
def create_clocking(request: Request, body: ClockingBody, principal: Principal = WRITE) -> Response:
    backend = services(request).backend
    record = backend.create_clocking(principal.tenant_id, to_draft(backend, principal, body))
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
    backend = services(request).backend
    record = backend.update_clocking(
        principal.tenant_id, clocking_id, to_draft(backend, principal, body), if_match
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


def to_draft(backend: ConnectorBackend, principal: Principal, body: ClockingBody) -> ClockingDraft:
    """The body as a draft, with records named by external reference resolved to ids."""
    fields: dict[str, tuple[str, RecordRef | None]] = {
        "person": ("people", body.person),
        "terminal": ("terminals", body.terminal),
        "reason": ("absence-definitions", body.reason),
    }
    for index, lv in enumerate(body.activityLevels or ()):
        fields[f"activityLevels[{index}].activityDefinition"] = (
            "activity-definitions",
            lv.activityDefinition,
        )
    ids = _resolve(backend, principal, fields)
    return ClockingDraft(
        person_id=ids["person"],
        date=body.date,
        time_of_day=body.timeOfDayInMinutes,
        kind=body.kind,
        terminal_id=ids.get("terminal"),
        longitude=body.geolocation.longitude if body.geolocation else None,
        latitude=body.geolocation.latitude if body.geolocation else None,
        reason_id=ids.get("reason"),
        is_open=body.isOpen,
        activity_levels=tuple(
            ActivityLevel(lv.level, ids[f"activityLevels[{index}].activityDefinition"])
            for index, lv in enumerate(body.activityLevels or ())
        ),
    )


def _resolve(
    backend: ConnectorBackend,
    principal: Principal,
    fields: dict[str, tuple[str, RecordRef | None]],
) -> dict[str, int]:
    ids, lookups, problems = {}, [], []
    for field, (collection, ref) in fields.items():
        if ref is None:
            continue
        if ref.id is not None:
            ids[field] = ref.id
            continue
        assert ref.externalReferences is not None  # the model requires one or the other
        ((name, value),) = ref.externalReferences.items()
        problem = reference_name_problem(collection, name)
        if problem:
            problems.append(f"{field}.externalReferences: {problem}")
        else:
            lookups.append(ReferenceLookup(field, collection, name, value))
    if problems:
        raise BadRequest(reasons=problems)
    return ids | backend.resolve_external_references(principal.tenant_id, lookups)


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
