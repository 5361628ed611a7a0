"""Routes of activity definitions: parse, call the service once, serialize.

``/activity-definitions[/{id}]`` (list, get, delta: as the other reference collections)
and the vendor's ``/activity-structure-versions/{structureVersionId}/levels/{level}/
activity-definitions[/{activityDefinitionReference}]`` (list and get; contract,
"Fidelity"). Scope ``activity-definitions.read``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from chronodelta.domain import ACTIVITY_DEFINITIONS, GUID_PATTERN
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ActivityDefinition, ErrorBody, page_model
from chronodelta.server._services import services
from chronodelta.server.activities._service import StructureLevel
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import DeltaFlag, DeltaToken, snapshot_response
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._dated import external_references_query
from chronodelta.server.records._lists import add_list_and_get, json_response, page_body, position
from chronodelta.server.records._tracked import TRACKED

router = APIRouter()
READ = Depends(require_scope(ACTIVITY_DEFINITIONS.read_scope))
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 414, 429)
}
NAME = ACTIVITY_DEFINITIONS.name
# Unicode's control characters (Cc) are in no reference: refused with 400 (issue 10).
NO_CONTROL_CHARACTERS = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"
NO_FILTER = ""  # the canonical "filter" of the whole collection's page tokens
Token = Annotated[str | None, Query(description="From the previous page's nextLink")]
References = Annotated[str | None, external_references_query(ACTIVITY_DEFINITIONS.name)]
VersionId = Annotated[
    str,
    Path(
        alias="structureVersionId",
        pattern=GUID_PATTERN,
        description="The activity structure version's id (a GUID)",
    ),
]
Level = Annotated[int, Path(ge=1, le=10, description="The level in the structure (1 is the top)")]


def list_definitions(
    request: Request,
    principal: Principal = READ,
    # Not published (a filter is a 400 here), so that generated clients send none.
    filter: Annotated[
        str | None, Query(description="Not supported here", include_in_schema=False)
    ] = None,
    continuationToken: Token = None,
    delta: DeltaFlag = None,
    deltaToken: DeltaToken = None,
    externalReferences: References = None,
) -> Response:
    if delta is not None or deltaToken is not None:
        query = SnapshotQuery(filter, continuationToken, deltaToken, externalReferences)
        return snapshot_response(request, principal, TRACKED[NAME], query)
    if filter is not None:
        raise BadRequest(reasons=[f"The {NAME} collection does not support filter"])
    return _page(request, principal, continuationToken, None, externalReferences)


def get_definition(
    request: Request,
    record_id: Annotated[
        str,
        Path(
            description="The activity definition's id (a GUID), or with externalReferences "
            "naming this collection the value of that reference (e.g. a data entry code "
            "with (activity-definitions,@data-entry-code))",
            json_schema_extra={"pattern": NO_CONTROL_CHARACTERS},
        ),
    ],
    principal: Principal = READ,
    externalReferences: References = None,
) -> Response:
    activities = services(request).activities
    record = activities.get(principal.tenant_id, record_id, externalReferences)
    return Response(orjson.dumps(record), media_type="application/json")


add_list_and_get(router, ACTIVITY_DEFINITIONS, ActivityDefinition, list_definitions,
                 get_definition, ERRORS)  # fmt: skip

STRUCTURE_PATH = (
    "/connector/protimeapi/api/v1/activity-structure-versions/{structureVersionId}"
    "/levels/{level}/activity-definitions"
)


@router.get(
    STRUCTURE_PATH,
    summary="Retrieve the activity definitions of a structure version's level",
    response_class=Response,
    tags=[NAME],
    operation_id="list_activity-definitions_of_structure_level",
    responses={200: {"model": page_model(ActivityDefinition)}, **ERRORS},
)
def list_structure_level(
    request: Request,
    version: VersionId,
    level: Level,
    principal: Principal = READ,
    continuationToken: Token = None,
    externalReferences: References = None,
) -> Response:
    structure = StructureLevel(version.lower(), level)
    return _page(request, principal, continuationToken, structure, externalReferences)


@router.get(
    STRUCTURE_PATH + "/{activityDefinitionReference}",
    summary="Retrieve an activity definition by id (GUID) or external reference",
    response_class=Response,
    tags=[NAME],
    operation_id="get_activity-definitions_of_structure_level",
    responses={200: {"model": ActivityDefinition}, **ERRORS},
)
def get_in_structure_level(
    request: Request,
    version: VersionId,
    level: Level,
    reference: Annotated[
        str,
        Path(
            alias="activityDefinitionReference",
            description="The definition's id (a GUID) or its externalReference",
            json_schema_extra={"pattern": NO_CONTROL_CHARACTERS},
        ),
    ],
    principal: Principal = READ,
    externalReferences: References = None,
) -> Response:
    structure = StructureLevel(version.lower(), level)
    activities = services(request).activities
    record = activities.get_in_structure(
        principal.tenant_id, structure, reference, externalReferences
    )
    return Response(orjson.dumps(record), media_type="application/json")


def _page(
    request: Request,
    principal: Principal,
    token: str | None,
    structure: StructureLevel | None,
    references: str | None,
) -> Response:
    found = services(request)
    canonical = NO_FILTER if structure is None else structure.canonical
    start = position(found, principal, token, NAME, canonical)
    limit = found.settings.page_size
    page = found.activities.list_page(principal.tenant_id, start.key, limit, structure, references)
    body = page_body(
        found,
        start=start,
        path=ACTIVITY_DEFINITIONS.path if structure is None else structure.path,
        tenant_id=principal.tenant_id,
        collection=NAME,
        records=page.records,
        next_key=page.next_key,
        filter_text=None,
        canonical_filter=canonical,
        external_references=references,
    )
    return json_response(body)
