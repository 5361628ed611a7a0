"""Custom external references of the reference collections (contract, "External references").

Predefined references (``@...``) are fields of a record and read only. Custom ones are
key-value pairs an integrator manages under the scope ``external-references.write``:

* ``GET    .../{collection}/{id}/external-references``: all of a record's references
  (the collection's read scope);
* ``PUT    .../{collection}/{id}/external-references/{name}`` with ``{"value": "..."}``:
  set one (a value names one record per collection and name; 409 if another has it);
* ``DELETE .../{collection}/{id}/external-references/{name}``: remove one (204).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from chronodelta.domain import (
    CUSTOM_REFERENCE_NAME,
    GUID_PATTERN,
    REFERENCE_COLLECTIONS,
    CollectionInfo,
    Scope,
    reference_name_problem,
)
from chronodelta.server._errors import BadRequest
from chronodelta.server._models import ErrorBody, ExternalReferenceBody, ExternalReferencesOut, Id
from chronodelta.server._services import services
from chronodelta.server.auth._access import require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.references._store import RecordId as RecordKey
from chronodelta.storage import tables

router = APIRouter(tags=["external-references"])
WRITE = Depends(require_scope(Scope.EXTERNAL_REFERENCES_WRITE))
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 409, 414, 429)
}
RecordId = Annotated[Id, Path(description="The record's id")]
GuidRecordId = Annotated[
    str, Path(description="The activity definition's id (a GUID)", pattern=GUID_PATTERN)
]
Name = Annotated[
    str,
    Path(
        description="A custom reference's name (no '@'), e.g. HRMID",
        json_schema_extra={"pattern": f"^{CUSTOM_REFERENCE_NAME.pattern}$"},
    ),
]


def _custom_name(collection: str, name: str) -> str:
    if name.startswith("@"):
        raise BadRequest(
            reasons=[f"{name}: predefined references are fields of the record and read only"]
        )
    problem = reference_name_problem(collection, name)
    if problem:
        raise BadRequest(reasons=[problem])
    return name


def _integer_id(record_id: RecordId) -> int:
    return record_id


def _guid_id(record_id: GuidRecordId) -> str:
    return record_id.lower()


# The path's id is the one the API shows: a GUID for activity definitions (seed 003).
def _path_id(info: CollectionInfo) -> Any:
    shown_as_guid = "guid" in tables.REFERENCE_TABLES[info.name].c
    return Depends(_guid_id if shown_as_guid else _integer_id)


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _add_collection(info: CollectionInfo) -> None:
    reader = Depends(require_scope(info.read_scope))
    path = info.path + "/{record_id}/external-references"
    path_id = _path_id(info)

    def get_references(
        request: Request, record_id: RecordKey = path_id, principal: Principal = reader
    ) -> Response:
        store = services(request).references
        return _json(store.get_external_references(principal.tenant_id, info.name, record_id))

    def set_reference(
        request: Request,
        name: Name,
        body: ExternalReferenceBody,
        record_id: RecordKey = path_id,
        principal: Principal = WRITE,
    ) -> Response:
        store = services(request).references
        name = _custom_name(info.name, name)
        return _json(
            store.set_external_reference(
                principal.tenant_id, info.name, record_id, name, body.value
            )
        )

    def delete_reference(
        request: Request, name: Name, record_id: RecordKey = path_id, principal: Principal = WRITE
    ) -> Response:
        store = services(request).references
        name = _custom_name(info.name, name)
        store.delete_external_reference(principal.tenant_id, info.name, record_id, name)
        return Response(status_code=204)

    for endpoint, method, suffix, summary, responses in (
        (get_references, "GET", "", "Retrieve a record's external references", 200),
        (set_reference, "PUT", "/{name}", "Set a custom external reference", 200),
        (delete_reference, "DELETE", "/{name}", "Remove a custom external reference", 204),
    ):
        ok = {"model": ExternalReferencesOut} if responses == 200 else {"description": "Removed"}
        router.add_api_route(
            path + suffix,
            endpoint,
            methods=[method],
            summary=f"{summary} ({info.name})",
            status_code=responses,
            response_class=Response,
            operation_id=f"{method.lower()}_{info.name}_external_references",
            responses={responses: ok, **ERRORS},
        )


for _info in REFERENCE_COLLECTIONS:
    _add_collection(_info)
