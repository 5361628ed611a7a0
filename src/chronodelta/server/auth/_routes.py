"""OAuth2 token endpoint, OIDC discovery and JWKS (contract, "Hosts and paths").

These parse the form (or HTTP Basic) and serialize; ``AuthService`` does the work.
What they refuse before any database work (issue 10, item 1): a ``{tenant}`` that is
not a tenant name (400: it cannot exist, and a NUL in it reached PostgreSQL as a 500),
and a client id or secret with a control character (400). docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Path, Request
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from chronodelta.server._errors import ApiError, BadRequest, Unauthorized, UnsupportedMediaType
from chronodelta.server._models import ErrorBody, TokenResponse
from chronodelta.server._services import services
from chronodelta.server.admin._tenants import TENANT_NAME
from chronodelta.server.auth._service import TokenRequest

router = APIRouter(tags=["authentication"])
FORM = "application/x-www-form-urlencoded"
# Discovery and JWKS answer the same for every well-formed tenant name (issue 10, item
# 7), and 400 for a name no tenant can have.
NOT_A_TENANT_NAME: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}}
# Unicode's control characters (Cc): no client id, secret or tenant name holds one.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")
# The tenant names admin accepts (TENANT_NAME, and no '-' at the end), published so
# that a client generated from /openapi.json sends only those (issue 11).
TenantName = Annotated[
    str,
    Path(
        description="The tenant, e.g. acme",
        json_schema_extra={"pattern": "^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
    ),
]


class ClientClosedRequest(ApiError):
    """The client went away before its body was read (issue 10, item 6).

    Not a server error, so neither a 500 in /metrics nor a logged traceback. Nobody
    reads this answer; 499 ("client closed request", as nginx logs it) is what /metrics
    counts.
    """

    status_code = 499
    code = "ClientClosedRequest"
    default_message = "The client closed the connection before sending its whole request"


def require_tenant_name(tenant: str) -> None:
    """400 unless ``tenant`` is a possible tenant name (admin's rule, a DNS label)."""
    if not TENANT_NAME.fullmatch(tenant) or tenant.endswith("-"):
        raise BadRequest(
            reasons=[
                "The tenant must be a tenant name: lower-case letters, digits and '-', "
                "starting with a letter"
            ]
        )


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
    description="An unknown tenant, an unknown client and a wrong secret get the same 401; "
    "failed requests are limited per source address, and past the limit they get 429 "
    "(docs/security.md).",
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
async def issue_token(request: Request, tenant: TenantName) -> Response:
    require_tenant_name(tenant)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise UnsupportedMediaType(reasons=[f"Send the token request as {FORM}"])
    try:
        form = await request.form()
    except ClientDisconnect:
        raise ClientClosedRequest from None
    client_id, client_secret = _client_credentials(request, form)
    if form.get("grant_type") != "client_credentials":
        raise BadRequest(reasons=["grant_type must be client_credentials"])
    token_request = TokenRequest(
        tenant=tenant,
        client_id=client_id,
        client_secret=client_secret,
        scope=str(form.get("scope") or ""),
        issuer=_issuer(request, tenant),
        source=_source(request),
    )
    body = await services(request).auth.issue_token(token_request)
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
        return _printable(unquote(client_id), unquote(secret))
    posted_id, posted_secret = form.get("client_id"), form.get("client_secret")
    if not isinstance(posted_id, str) or not isinstance(posted_secret, str) or not posted_id:
        raise Unauthorized(
            "Invalid client credentials", reasons=["client_id and client_secret are required"]
        )
    return _printable(posted_id, posted_secret)


def _printable(client_id: str, secret: str) -> tuple[str, str]:
    """The credentials, or 400 if either holds a control character (issue 10, item 1)."""
    for name, value in (("client_id", client_id), ("client_secret", secret)):
        if CONTROL_CHARACTERS.search(value):
            raise BadRequest(reasons=[f"{name} must not contain control characters"])
    return client_id, secret


def _issuer(request: Request, tenant: str) -> str:
    return services(request).tokens.issuer(tenant, str(request.base_url))


def _source(request: Request) -> str:
    """Whom failures are counted against: the peer's address as uvicorn puts it in the
    ASGI scope (behind a proxy, the proxy's, unless FORWARDED_ALLOW_IPS trusts it)."""
    return request.client.host if request.client is not None else "unknown"


@router.get(
    "/tenants/{tenant}/.well-known/openid-configuration",
    summary="OpenID Connect discovery document",
    description="The same document for every well-formed tenant name, whether the tenant "
    "exists or not, so that it does not tell which tenants exist (docs/security.md).",
    response_class=Response,
    responses=NOT_A_TENANT_NAME,
)
async def discovery(request: Request, tenant: TenantName) -> Response:
    require_tenant_name(tenant)
    document = services(request).auth.discovery(_issuer(request, tenant))
    return Response(orjson.dumps(document), media_type="application/json")


@router.get(
    "/tenants/{tenant}/.well-known/openid-configuration/jwks",
    summary="The public keys that sign access tokens",
    description="The installation's keys: the same for every well-formed tenant name, "
    "whether the tenant exists or not (docs/security.md).",
    response_class=Response,
    responses=NOT_A_TENANT_NAME,
)
async def jwks(request: Request, tenant: TenantName) -> Response:
    require_tenant_name(tenant)
    return Response(orjson.dumps(services(request).auth.jwks()), media_type="application/json")
