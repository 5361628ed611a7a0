"""Read-only routes of the calculated totals: paid presences, activity durations and
the calculated-totals collection.

Seeds 002 and 003 (and the contract's "Fidelity" for calculated-totals): calculated
from clockings (docs/calculation.md), under their own scopes, with the clockings'
filter rules, paging, delta and external references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from chronodelta.domain import (
    ACTIVITY_DURATIONS,
    CALCULATED_TOTALS,
    PAID_PRESENCES,
    CollectionInfo,
)
from chronodelta.server import _models as models
from chronodelta.server._models import ErrorBody, Id
from chronodelta.server._services import services
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.delta._routes import DeltaFlag, DeltaToken
from chronodelta.server.records._backend import ConnectorBackend, References
from chronodelta.server.records._dated import (
    ListPage,
    dated_list_response,
    external_references_query,
)
from chronodelta.server.records._lists import add_list_and_get
from chronodelta.server.records._serialize import Wire
from chronodelta.server.records._tracked import TRACKED

router = APIRouter()
# 409: a continuationToken that cannot be used (contract, "Fidelity", "Paging").
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 410, 414, 429)
}
FilterText = Annotated[
    str | None,
    Query(
        json_schema_extra={"minLength": 1},
        description="Required: date range, e.g. date ge '2026-01-01' and date le '2026-01-31' "
        "(a start alone lists a year; with &delta: a start date, an optional end date); "
        "optionally person, also person in circle(...), org-group(...), org-tree(...) "
        "(not in delta)"
    ),
]


GetOne = Callable[[int, int, References], Wire]


def _add_collection(
    info: CollectionInfo,
    model: type[BaseModel],
    list_page: Callable[[ConnectorBackend], ListPage],
    get_record: Callable[[ConnectorBackend], GetOne],
) -> None:
    """``list_page``/``get_record`` pick the backend's operations for the collection."""
    reader = Depends(require_scope(info.read_scope))
    references_query = external_references_query(info.name, with_default=True)

    def list_records(
        request: Request,
        principal: Principal = reader,
        filter: FilterText = None,
        continuationToken: Annotated[str | None, Query()] = None,
        delta: DeltaFlag = None,
        deltaToken: DeltaToken = None,
        externalReferences: str | None = references_query,
    ) -> Response:
        return dated_list_response(
            request,
            principal,
            TRACKED[info.name],
            list_page(services(request).backend),
            filter_text=filter,
            continuation=continuationToken,
            delta=delta,
            delta_token=deltaToken,
            external_references=externalReferences,
        )

    def get_one(
        request: Request,
        record_id: Annotated[Id, Path(description="The record's id")],
        principal: Principal = reader,
        externalReferences: str | None = references_query,
    ) -> Response:
        backend = services(request).backend
        record = get_record(backend)(principal.tenant_id, record_id, externalReferences)
        return Response(orjson.dumps(record), media_type="application/json")

    add_list_and_get(router, info, model, list_records, get_one, ERRORS)


_add_collection(
    PAID_PRESENCES,
    models.PaidPresence,
    lambda backend: backend.list_paid_presences,
    lambda backend: backend.get_paid_presence,
)
_add_collection(
    ACTIVITY_DURATIONS,
    models.ActivityDuration,
    lambda backend: backend.list_activity_durations,
    lambda backend: backend.get_activity_duration,
)
_add_collection(
    CALCULATED_TOTALS,
    models.CalculatedTotal,
    lambda backend: backend.list_calculated_totals,
    lambda backend: backend.get_calculated_total,
)
