"""OAuth2 token endpoint, OIDC discovery and JWKS (contract, "Hosts and paths")."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from chronodelta.domain import ALL_SCOPES, UnknownScopeError, format_scopes, parse_scopes
from chronodelta.storage import read_transaction
from chronodelta.storage.tables import tenants

from .._auth import authenticate_client, check_token_rate
from .._errors import BadRequest, NotFound, Unauthorized, UnsupportedMediaType
from .._models import ErrorBody, TokenResponse
from .._services import Services, services

router = APIRouter(tags=["authentication"])
FORM = "application/x-www-form-urlencoded"
# Discovery and JWKS answer 404 for a tenant that does not exist (documented after
# Schemathesis found the status missing from the OpenAPI document).
UNKNOWN_TENANT: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


@router.post(
    "/tenants/{tenant}/connect/token",
    summary="Get an access token (OAuth2 client credentials, form-encoded)",
    response_class=Response,
    # 415: a body that is not form-encoded (documented after Schemathesis found it missing).
    responses={
        200: {"model": TokenResponse},
        400: {"model": ErrorBody},
        401: {"model": ErrorBody},
        415: {"model": ErrorBody},
        429: {"model": ErrorBody},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def issue_token(request: Request, tenant: str) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise UnsupportedMediaType(reasons=[f"Send the token request as {FORM}"])
    form = await request.form()
    client_id, client_secret = _client_credentials(request, form)
    if form.get("grant_type") != "client_credentials":
        raise BadRequest(reasons=["grant_type must be client_credentials"])
    requested = str(form.get("scope") or "")
    issuer = _issuer(request, tenant)
    body = await run_in_threadpool(
        _issue, services(request), tenant, client_id, client_secret, requested, issuer
    )
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _issue(
    found: Services, tenant: str, client_id: str, secret: str, requested: str, issuer: str
) -> dict[str, Any]:
    check_token_rate(
        found.engine, f"{tenant}/{client_id}", found.settings.token_requests_per_minute
    )
    client = authenticate_client(found.engine, tenant, client_id, secret)
    try:
        wanted = parse_scopes(requested) if requested.strip() else client.scopes
    except UnknownScopeError as exc:
        raise BadRequest(reasons=[f"Unknown scope: {name}" for name in exc.names]) from None
    refused = [s.value for s in wanted if s not in client.scopes]
    if refused:
        raise BadRequest(reasons=[f"Scope not granted to this client: {s}" for s in refused])
    token = found.tokens.issue(client, wanted, issuer)
    return {
        "access_token": token,
        "expires_in": found.tokens.lifetime_seconds,
        "token_type": "Bearer",
        "scope": format_scopes(wanted),
    }


def _client_credentials(request: Request, form: FormData) -> tuple[str, str]:
    """From the form (client_secret_post) or HTTP Basic (client_secret_basic)."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Invalid client credentials") from None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if not isinstance(posted_id, str) or not isinstance(posted_secret, str) or not posted_id:
        raise Unauthorized(
            "Invalid client credentials", reasons=["client_id and client_secret are required"]
        )
    return posted_id, posted_secret


def _issuer(request: Request, tenant: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/tenants/{tenant}"


@router.get(
    "/tenants/{tenant}/.well-known/openid-configuration",
    summary="OpenID Connect discovery document",
    response_class=Response,
    responses=UNKNOWN_TENANT,
)
def discovery(request: Request, tenant: str) -> Response:
    _require_tenant(services(request), tenant)
    issuer = _issuer(request, tenant)
    document = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/connect/token",
        "jwks_uri": f"{issuer}/.well-known/openid-configuration/jwks",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "scopes_supported": [s.value for s in ALL_SCOPES],
        "response_types_supported": ["token"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
    }
    return Response(orjson.dumps(document), media_type="application/json")


@router.get(
    "/tenants/{tenant}/.well-known/openid-configuration/jwks",
    summary="The public keys that sign access tokens",
    response_class=Response,
    responses=UNKNOWN_TENANT,
)
def jwks(request: Request, tenant: str) -> Response:
    found = services(request)
    _require_tenant(found, tenant)
    return Response(orjson.dumps(found.tokens.jwks), media_type="application/json")


def _require_tenant(found: Services, tenant: str) -> None:
    with read_transaction(found.engine) as connection:
        exists = connection.scalar(sa.select(tenants.c.id).where(tenants.c.name == tenant))
    if exists is None:
        raise NotFound("No such tenant")
