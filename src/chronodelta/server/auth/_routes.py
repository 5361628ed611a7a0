"""OAuth2 token endpoint, OIDC discovery and JWKS (contract, "Hosts and paths").

These parse the form (or HTTP Basic) and serialize; ``AuthService`` does the work.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from chronodelta.server._errors import BadRequest, Unauthorized, UnsupportedMediaType
from chronodelta.server._models import ErrorBody, TokenResponse
from chronodelta.server._services import services

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
        services(request).auth.issue_token, tenant, client_id, client_secret, requested, issuer
    )
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


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
    document = services(request).auth.discovery(tenant, _issuer(request, tenant))
    return Response(orjson.dumps(document), media_type="application/json")


@router.get(
    "/tenants/{tenant}/.well-known/openid-configuration/jwks",
    summary="The public keys that sign access tokens",
    response_class=Response,
    responses=UNKNOWN_TENANT,
)
def jwks(request: Request, tenant: str) -> Response:
    keys = services(request).auth.jwks(tenant)
    return Response(orjson.dumps(keys), media_type="application/json")
