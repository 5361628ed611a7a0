"""Read-only routes of the reference collections (people, terminals, definitions).

Contract, "Fidelity": lists and gets take ``externalReferences`` for the collection's
own and related collections (the records carry them as the dated collections' nested
objects do), a get addresses its record by id or by the value of the collection's
own reference, and the counter definitions list takes the filters ``counter-group``
and ``enabled``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from chronodelta.domain import (
    REFERENCE_COLLECTIONS,
    CollectionInfo,
    FilterCriteria,
    FilterError,
    compile_filter,
)
from chronodelta.server import _models as models
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ErrorBody
from chronodelta.server._services import services
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import DeltaFlag, DeltaToken, snapshot_response
from chronodelta.server.delta._service import SnapshotQuery
from chronodelta.server.records._dated import external_references_query
from chronodelta.server.records._lists import add_list_and_get, json_response, page_body, position
from chronodelta.server.records._tracked import TRACKED, TrackedCollection

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
# The canonical "filter" of the tokens of an unfiltered reference list.
NO_FILTER = ""
RecordReference = Annotated[
    str,
    Path(
        description="The record's id, or with externalReferences naming this collection, "
        "the value of that reference (e.g. a badge number with (people,@badge-number))",
        # Control characters are in no id or reference value: 400 (issue 10, item 1).
        json_schema_extra={"pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"},
    ),
]


def _filter_description(tracked: TrackedCollection) -> str:
    if tracked.filter_spec is None:
        return "Not supported here"
    return (
        "Optional: "
        + ", ".join(f.name for f in tracked.filter_spec.fields)
        + (", e.g. counter-group in (1, 2) and enabled eq true")
    )


def list_criteria(
    tracked: TrackedCollection, text: str | None, today: dt.date
) -> FilterCriteria | None:
    """A reference list's filter (400 with reasons if bad); None for no filter."""
    if tracked.filter_spec is None:
        if text is not None:
            raise BadRequest(reasons=[f"The {tracked.name} collection does not support filter"])
        return None
    try:
        return compile_filter(text, tracked.filter_spec, mode="list", today=today)
    except FilterError as exc:
        raise BadRequest(reasons=exc.reasons) from None


def _add_collection(info: CollectionInfo) -> None:
    model = MODELS[info.name]
    tracked = TRACKED[info.name]
    reader = Depends(require_scope(info.read_scope))
    # Not an Annotated alias: annotations are strings here, resolved in the module.
    # A collection that takes no filter does not publish one (issue 11: a client generated
    # from /openapi.json sent an empty filter=); a filter sent anyway is still a 400.
    filter_query = Query(
        None,
        description=_filter_description(tracked),
        include_in_schema=tracked.filter_spec is not None,
    )
    references_query = external_references_query(info.name, with_default=True)

    def list_records(
        request: Request,
        principal: Principal = reader,
        filter: str | None = filter_query,
        continuationToken: Annotated[str | None, Query()] = None,
        delta: DeltaFlag = None,
        deltaToken: DeltaToken = None,
        externalReferences: str | None = references_query,
    ) -> Response:
        if delta is not None or deltaToken is not None:
            query = SnapshotQuery(filter, continuationToken, deltaToken, externalReferences)
            return snapshot_response(request, principal, tracked, query)
        criteria = list_criteria(tracked, filter, principal.clock.today())
        canonical = NO_FILTER if criteria is None else criteria.canonical()
        found = services(request)
        start = position(found, principal, continuationToken, info.name, canonical)
        page = found.backend.list_references(
            principal.tenant_id,
            info.name,
            start.key,
            found.settings.page_size,
            externalReferences,
            criteria,
        )
        body = page_body(
            found,
            start=start,
            path=info.path,
            tenant_id=principal.tenant_id,
            collection=info.name,
            records=page.records,
            next_key=page.next_key,
            filter_text=filter if criteria is not None else None,
            canonical_filter=canonical,
            external_references=externalReferences,
        )
        return json_response(body)

    def get_record(
        request: Request,
        record_id: RecordReference,
        principal: Principal = reader,
        externalReferences: str | None = references_query,
    ) -> Response:
        record = services(request).backend.get_reference(
            principal.tenant_id, info.name, record_id, externalReferences
        )
        return Response(orjson.dumps(record), media_type="application/json")

    add_list_and_get(router, info, model, list_records, get_record, ERRORS)


for _info in REFERENCE_COLLECTIONS:
    if _info.name != "activity-definitions":  # GUID ids, routes of their own (activities/)
        _add_collection(_info)
