"""Read-only routes of the reference collections (people, terminals, definitions)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from chronodelta.domain import REFERENCE_COLLECTIONS, CollectionInfo
from chronodelta.server import _models as models
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ErrorBody, Id
from chronodelta.server._services import services
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import DeltaFlag, DeltaToken, snapshot_response
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._lists import add_list_and_get, page_response, position
from chronodelta.server.records._tracked import TRACKED

router = APIRouter()
# 409: a continuationToken that cannot be used (contract, "Fidelity", "Paging").
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 414, 429)
}
MODELS: dict[str, type[BaseModel]] = {
    "people": models.Person,
    "terminals": models.Terminal,
    "absence-definitions": models.AbsenceDefinition,
    "counter-definitions": models.CounterDefinition,
    "shift-definitions": models.ShiftDefinition,
}
# Reference lists are small and unfiltered; the canonical "filter" of their tokens.
NO_FILTER = ""


def _add_collection(info: CollectionInfo) -> None:
    model = MODELS[info.name]
    reader = Depends(require_scope(info.read_scope))

    def list_records(
        request: Request,
        principal: Principal = reader,
        filter: Annotated[str | None, Query(description="Not supported here")] = None,
        continuationToken: Annotated[str | None, Query()] = None,
        delta: DeltaFlag = None,
        deltaToken: DeltaToken = None,
    ) -> Response:
        if delta is not None or deltaToken is not None:
            query = SnapshotQuery(filter, continuationToken, deltaToken)
            return snapshot_response(request, principal, TRACKED[info.name], query)
        if filter is not None:
            raise BadRequest(reasons=[f"The {info.name} collection does not support filter"])
        found = services(request)
        after = position(found, continuationToken, principal.tenant_id, info.name, NO_FILTER)
        page = found.backend.list_references(
            principal.tenant_id,
            info.name,
            after,
            found.settings.page_size,
        )
        return page_response(
            found,
            path=info.path,
            tenant_id=principal.tenant_id,
            collection=info.name,
            records=page.records,
            next_key=page.next_key,
            filter_text=None,
            canonical_filter=NO_FILTER,
        )

    def get_record(
        request: Request,
        record_id: Annotated[Id, Path(description="The record's id")],
        principal: Principal = reader,
    ) -> Response:
        record = services(request).backend.get_reference(principal.tenant_id, info.name, record_id)
        return Response(orjson.dumps(record), media_type="application/json")

    add_list_and_get(router, info, model, list_records, get_record, ERRORS)


for _info in REFERENCE_COLLECTIONS:
    if _info.name != "activity-definitions":  # GUID ids, routes of their own (activities/)
        _add_collection(_info)
