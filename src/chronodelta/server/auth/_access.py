"""The per-request access check: bearer token, tenant host, scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronodelta.domain import Scope
from chronodelta.server._errors import Unauthorized
from chronodelta.server._services import services
from chronodelta.server.auth._tokens import INVALID_TOKEN, Principal

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An access token from POST /tenants/{tenant}/connect/token",
)


def host_tenant(host: str, tenant_domains: tuple[str, ...]) -> str | None:
    """The tenant a Host header names ("acme" in "acme.myprotime.eu:443"), if any."""
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else ""
    for domain in tenant_domains:
        suffix = "." + domain
        if name.endswith(suffix):
            label = name[: -len(suffix)]
            if label and "." not in label:
                return label
    return None


def check_access(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: Scope | None
) -> Principal:
    """The caller, if its token is valid here and grants ``scope``; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(INVALID_TOKEN)
    found = services(request)
    principal = found.tokens.verify(credentials.credentials)
    named = host_tenant(request.headers.get("host", ""), found.settings.tenant_domains)
    # Contract, "Hosts and paths": a tenant host refuses other tenants' tokens.
    if named is not None and named != principal.tenant:
        raise Unauthorized(INVALID_TOKEN)
    if scope is not None and scope.value not in principal.scopes:
        raise Unauthorized(
            "The access token does not grant the required scope",
            reasons=[f"This operation requires the scope {scope.value}"],
        )
    return principal


def require_scope(scope: Scope) -> Callable[..., Principal]:
    """A dependency that admits callers whose token is valid here and has ``scope``."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Principal:
        return check_access(request, credentials, scope)

    return check
