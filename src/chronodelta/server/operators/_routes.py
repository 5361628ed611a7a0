"""The ``/admin`` API's own routes: who am I, the tenants, and the fallback.

Each sandbox feature adds its admin routes in its own sub-package, every one behind
``OPERATOR``. They are left out of the OpenAPI document, which describes the vendor's
API only (docs/sandbox.md documents these). ``fallback_router`` is included last: an
unknown ``/admin`` path asks for operator credentials before it answers 404, so that
no ``/admin`` path tells an API token holder anything (issue 13, "Must hold").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from chronodelta.server._errors import NotFound
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import list_tenants
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator, require_operator

OPERATOR = Depends(require_operator)
router = APIRouter(prefix=ADMIN_PREFIX, include_in_schema=False)
fallback_router = APIRouter(include_in_schema=False)
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@router.get("/whoami")
def whoami(operator: Operator = OPERATOR) -> dict[str, str]:
    return {"operator": operator.name}


@router.get("/tenants")
def tenants(request: Request, _operator: Operator = OPERATOR) -> dict[str, Any]:
    return {
        "value": [
            {"name": t.name, "createdAt": t.created_at.isoformat()}
            for t in list_tenants(services(request).engine)
        ]
    }


@fallback_router.api_route(ADMIN_PREFIX, methods=_EVERY_METHOD)
@fallback_router.api_route(ADMIN_PREFIX + "/{rest:path}", methods=_EVERY_METHOD)
def unknown_admin_path(_operator: Operator = OPERATOR) -> None:
    raise NotFound("No such admin resource")
