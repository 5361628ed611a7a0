"""The admin API of resets and snapshots (issue 13, item 4), behind ``OPERATOR``.

The same operations as ``chronodelta tenants reset|snapshot|restore|snapshots|
delete-snapshot``, through the running server (docs/sandbox.md, "Reset and snapshots").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from chronodelta.domain import format_change_version
from chronodelta.server._errors import BadRequest, Conflict, NotFound
from chronodelta.server._models import _Strict
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.operators._access import ADMIN_PREFIX, Operator
from chronodelta.server.operators._routes import OPERATOR
from chronodelta.server.snapshots._service import (
    SnapshotExists,
    SnapshotNotFound,
    TenantNotFound,
    delete_snapshot,
    list_snapshots,
    reset_tenant,
    restore_tenant,
    snapshot_tenant,
)
from chronodelta.server.snapshots._store import RestoreResult, SnapshotInfo

router = APIRouter(prefix=ADMIN_PREFIX + "/tenants/{tenant}", include_in_schema=False)
Tenant = Annotated[str, Path(max_length=63)]
Name = Annotated[str, Path(max_length=64)]


class SnapshotBody(_Strict):
    name: str
    replace: bool = False


@router.post("/reset")
def reset(request: Request, tenant: Tenant, _operator: Operator = OPERATOR) -> dict[str, Any]:
    with _as_api_errors():
        return _restored(reset_tenant(services(request).engine, tenant))


@router.get("/snapshots")
def snapshots(request: Request, tenant: Tenant, _operator: Operator = OPERATOR) -> dict[str, Any]:
    with _as_api_errors():
        found = list_snapshots(services(request).engine, tenant)
    return {"value": [_snapshot(info) for info in found]}


@router.post("/snapshots", status_code=201)
def snapshot(
    request: Request, tenant: Tenant, body: SnapshotBody, _operator: Operator = OPERATOR
) -> JSONResponse:
    with _as_api_errors():
        info = snapshot_tenant(services(request).engine, tenant, body.name, replace=body.replace)
    return JSONResponse(_snapshot(info), status_code=201)


@router.post("/snapshots/{name}/restore")
def restore(
    request: Request, tenant: Tenant, name: Name, _operator: Operator = OPERATOR
) -> dict[str, Any]:
    with _as_api_errors():
        return _restored(restore_tenant(services(request).engine, tenant, name))


@router.delete("/snapshots/{name}", status_code=204)
def delete(
    request: Request, tenant: Tenant, name: Name, _operator: Operator = OPERATOR
) -> Response:
    with _as_api_errors():
        delete_snapshot(services(request).engine, tenant, name)
    return Response(status_code=204)


@contextmanager
def _as_api_errors() -> Iterator[None]:
    try:
        yield
    except (TenantNotFound, SnapshotNotFound) as exc:
        raise NotFound(str(exc)) from None
    except SnapshotExists as exc:
        raise Conflict(str(exc)) from None
    except AdminError as exc:
        raise BadRequest(reasons=[str(exc)]) from None


def _snapshot(info: SnapshotInfo) -> dict[str, Any]:
    seed = None
    if info.seed is not None:
        seed = {**dataclasses.asdict(info.seed), "until": info.seed.until.isoformat()}
    return {
        "tenant": info.tenant,
        "name": info.name,
        "createdAt": info.created_at.isoformat(),
        "rows": info.rows,
        "seed": seed,
    }


def _restored(result: RestoreResult) -> dict[str, Any]:
    versions = None
    if result.versions is not None:
        versions = {
            "first": format_change_version(result.versions[0]),
            "last": format_change_version(result.versions[1]),
        }
    return {
        "tenant": result.tenant,
        "snapshot": result.snapshot,
        "deleted": result.deleted,
        "updated": result.updated,
        "inserted": result.inserted,
        "deltasEnded": result.deltas_ended,
        "changeVersions": versions,
    }
