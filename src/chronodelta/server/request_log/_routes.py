"""``GET /admin/tenants/{tenant}/requests``: the tenant's request log (operators only).

Query parameters as ``RequestLogQuery``: ``limit``, ``status`` (503 or 5xx),
``method``, ``client``, ``path`` (a substring), ``since_id``, ``since`` (ISO time),
``order`` (``newest``, the default, or ``oldest``). docs/sandbox.md, "Request log".
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator
from chronodelta.server.operators._routes import OPERATOR
from chronodelta.server.request_log._store import RequestLogQuery, query_request_log

router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)


@router.get("/tenants/{tenant}/requests")
def requests_of_tenant(
    request: Request,
    tenant: str,
    limit: Annotated[int, Query()] = 100,
    status: Annotated[str | None, Query()] = None,
    method: Annotated[str | None, Query()] = None,
    client: Annotated[str | None, Query()] = None,
    path: Annotated[str | None, Query()] = None,
    since_id: Annotated[int | None, Query()] = None,
    since: Annotated[dt.datetime | None, Query()] = None,
    order: Annotated[Literal["newest", "oldest"], Query()] = "newest",
    _operator: Operator = OPERATOR,
) -> dict[str, Any]:
    try:
        query = RequestLogQuery(
            client, method, path, status, since_id, since, limit, order == "oldest"
        )
    except AdminError as exc:
        raise BadRequest(reasons=[str(exc)]) from None
    try:
        rows = query_request_log(services(request).engine, tenant, query)
    except AdminError as exc:  # no such tenant
        raise NotFound(str(exc)) from None
    return {"value": [row.to_json() for row in rows]}
