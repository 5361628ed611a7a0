"""Webhook routes (contract, "Webhooks"): parse, call the webhook backend once, serialize.

* ``POST   /webhooks`` ``{"destinationUrl", "collectionName"}``, ``?externalReferences=``:
  201, ``Location``, the webhook and its ``signingKey`` (shown only here);
* ``GET    /webhooks[?filter=status eq 'Disabled']``: ``{"value": [...]}``;
* ``GET    /webhooks/{id}``, ``DELETE /webhooks/{id}`` (soft: 204);
* ``GET    /webhooks/{id}/deliveries``: the delivery log, also after a delete.

Scopes: ``webhooks.write`` to register or delete, and the collection's read scope to
subscribe to it (a webhook pushes the collection's records); ``webhooks.read`` to read,
or the collection's own read scope (contract, "Fidelity": "A collection's ``.read`` also
covers its webhooks' reads").
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from starlette.responses import Response

from chronodelta.domain import API_PREFIX, Scope
from chronodelta.server._errors import Unauthorized
from chronodelta.server._models import ErrorBody, Text, _Strict
from chronodelta.server._services import services
from chronodelta.server.auth._access import bearer_scheme, check_access, require_scope
from chronodelta.server.auth._tokens import Principal
from chronodelta.server.records._tracked import TRACKED
from chronodelta.server.webhooks._backend import webhook_filter
from chronodelta.server.webhooks._outbox import subscribable_collections

PATH = API_PREFIX + "/webhooks"
router = APIRouter(tags=["webhooks"])
WRITE = Depends(require_scope(Scope.WEBHOOKS_WRITE))
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 414, 429)
}
WebhookId = Annotated[uuid.UUID, Path(description="The webhook's id (a GUID)")]


class WebhookBody(_Strict):
    # Described as the backend checks them, so that a generated client sends only what
    # is taken (issue 11); the checks themselves stay in _backend (400, not 422).
    destinationUrl: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=2048,
            json_schema_extra={
                "pattern": "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$",
                "format": "uri",
            },
        ),
    ]
    collectionName: Annotated[
        Text, Field(min_length=1, max_length=100, json_schema_extra={"enum": sorted(TRACKED)})
    ]


class Webhook(BaseModel):
    id: str
    validUntil: str
    status: str
    destinationUrl: str
    collectionName: str
    externalReferences: str | None = None
    disabledReason: str | None = None
    signingKey: str | None = Field(None, description="whsec_...: only in POST's answer")


def readable_collections(principal: Principal) -> frozenset[str]:
    """The collections whose webhooks ``principal`` may read."""
    if Scope.WEBHOOKS_READ.value in principal.scopes:
        return frozenset(subscribable_collections())
    return frozenset(
        name
        for name in subscribable_collections()
        if TRACKED[name].info.read_scope.value in principal.scopes
    )


def reader(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Principal:
    principal = check_access(request, credentials, None)
    if not readable_collections(principal):
        raise Unauthorized(
            "The access token does not grant the required scope",
            reasons=[
                f"This operation requires the scope {Scope.WEBHOOKS_READ.value} "
                "or a collection's read scope"
            ],
        )
    return principal


READ = Depends(reader)


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )

# Which pairs a webhook takes depends on the collection named in its body, so no
# per-operation pattern describes it here (``_backend`` checks them).
ExternalReferencesText = Annotated[
    str | None,
    Query(
        description="References to add to the events' nested objects, as on the "
        "collection's list, e.g. (people,@badge-number)",
        json_schema_extra={
            "minLength": 1,
            "pattern": "^(\\([a-z-]+,@?[A-Za-z0-9][A-Za-z0-9._-]{0,63}\\))+$",
        },
    ),
]

@router.post(
    PATH,
    summary="Register a webhook (its signingKey is shown only in this answer)",
    status_code=201,
    response_class=Response,
    responses={201: {"model": Webhook}, **ERRORS},
)
def create_webhook(
    request: Request,
    body: WebhookBody,
    principal: Principal = WRITE,
    externalReferences: ExternalReferencesText = None,
) -> Response:
    tracked = TRACKED.get(body.collectionName)
    if tracked is not None and tracked.info.read_scope.value not in principal.scopes:
        raise Unauthorized(
            "The access token does not grant the required scope",
            reasons=[
                f"A webhook on {tracked.name} requires the scope "
                f"{tracked.info.read_scope.value} too"
            ],
        )
    created = services(request).webhooks.create(
        principal.tenant_id,
        principal.client_id,
        body.destinationUrl,
        body.collectionName,
        externalReferences,
    )
    return _json(created, 201, {"Location": f"{PATH}/{created['id']}"})


@router.get(
    PATH,
    summary="Retrieve the webhooks (filters: status, collectionName)",
    response_class=Response,
    responses={200: {"description": '{"value": [webhook, ...]}'}, **ERRORS},
)
def list_webhooks(
    request: Request,
    principal: Principal = READ,
    filter: Annotated[
        str | None, Query(description="e.g. status eq 'Disabled' and collectionName eq 'clockings'")
    ] = None,
) -> Response:
    criteria = webhook_filter(filter)
    found = services(request).webhooks.list(
        principal.tenant_id, criteria, readable_collections(principal)
    )
    return _json({"value": found})


@router.get(
    PATH + "/{webhook_id}",
    summary="Retrieve a webhook (never its signing key)",
    response_class=Response,
    responses={200: {"model": Webhook}, **ERRORS},
)
def get_webhook(request: Request, webhook_id: WebhookId, principal: Principal = READ) -> Response:
    found = services(request).webhooks.get(
        principal.tenant_id, str(webhook_id), readable_collections(principal)
    )
    return _json(found)


@router.delete(
    PATH + "/{webhook_id}",
    summary="Delete a webhook (soft: its delivery log stays readable)",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **ERRORS},
)
def delete_webhook(
    request: Request, webhook_id: WebhookId, principal: Principal = WRITE
) -> Response:
    services(request).webhooks.delete(
        principal.tenant_id, str(webhook_id), frozenset(subscribable_collections())
    )
    return Response(status_code=204)


@router.get(
    PATH + "/{webhook_id}/deliveries",
    summary="Retrieve a webhook's delivery log (kept after delete)",
    response_class=Response,
    responses={200: {"description": '{"value": [attempt, ...]}'}, **ERRORS},
)
def list_deliveries(
    request: Request, webhook_id: WebhookId, principal: Principal = READ
) -> Response:
    found = services(request).webhooks.deliveries(
        principal.tenant_id, str(webhook_id), readable_collections(principal)
    )
    return _json(found)
