"""``/admin/tenants/{tenant}/deltas``: a tenant's deltas for the operator (docs/sandbox.md,
"Deltas"): ``GET`` lists them with their time left in the tenant's time; ``POST
.../{id}/expire`` or ``DELETE .../{id}`` expires one (204), so its links answer 410.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from chronodelta.server._services import services
from chronodelta.server.clock._routes import operator_errors
from chronodelta.server.delta._admin import DeltaInfo, expire_delta, list_deltas
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator
from chronodelta.server.operators._routes import OPERATOR

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)
DELTAS = "/tenants/{tenant}/deltas"


def delta_wire(info: DeltaInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "clientId": info.client_id,
        "collection": info.collection,
        "filter": info.filter,
        "status": info.status,
        "startedOn": info.started_on.isoformat(),
        "createdAt": info.created_at.isoformat(),
        "lastUsedAt": info.last_used_at.isoformat(),
        "expiresAt": info.expires_at.isoformat(),
        "secondsLeft": info.seconds_left,
    }


@router.get(DELTAS)
def get_deltas(request: Request, tenant: str, _operator: Operator = OPERATOR) -> dict[str, Any]:
    found = services(request)
    with operator_errors():
        infos = list_deltas(found.engine, tenant, ttl=found.deltas.ttl)
    return {"value": [delta_wire(info) for info in infos]}


@router.delete(DELTAS + "/{delta_id}", status_code=204)
@router.post(DELTAS + "/{delta_id}/expire", status_code=204)
def expire(
    request: Request, tenant: str, delta_id: int, _operator: Operator = OPERATOR
) -> Response:
    with operator_errors():
        expire_delta(services(request).engine, tenant, delta_id)
    return Response(status_code=204)
