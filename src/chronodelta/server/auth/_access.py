"""The per-request access check: bearer token, tenant host, scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronodelta.domain import Scope
from chronodelta.server._errors import Unauthorized
from chronodelta.server._services import services
from chronodelta.server.auth._tokens import INVALID_TOKEN, Principal, is_current
from chronodelta.server.request_log._call import caller_admitted, caller_identified

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An access token from POST /tenants/{tenant}/connect/token",
)


def host_tenant(host: str, tenant_domains: tuple[str, ...]) -> str | None:
    """The tenant a Host header names ("acme" in "ACME.myprotime.eu.:443"), if any.

    Issue 10, item 5: the name is compared as DNS compares it, case-insensitive and
    with one trailing dot (the root) or none; the port is no part of it. Before, the
    trailing dot named no tenant, and another tenant's token was served. RequestGuard
    has refused a malformed Host, or more than one, with 400.
    """
    name = _host_name(host)
    for domain in tenant_domains:
        suffix = "." + _host_name(domain)
        if name.endswith(suffix):
            label = name[: -len(suffix)]
            if label and "." not in label:
                return label
    return None


def _host_name(host: str) -> str:
    """``host`` without its port and one trailing dot, lower-case ("" for IPv6)."""
    if host.startswith("["):  # an IPv6 literal names no tenant
        return ""
    name = host.rsplit(":", 1)[0].lower()
    return name[:-1] if name.endswith(".") else name


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
    caller_identified(request, principal)  # issue 13, item 3: the request log's caller
    # Issue 10, item 9: a revoked client's tokens are refused, cached ones included,
    # within CHRONODELTA_REVOCATION_REFRESH_SECONDS in every worker.
    if found.revoked.is_revoked(principal.client_id):
        raise Unauthorized(INVALID_TOKEN)
    if scope is not None and scope.value not in principal.scopes:
        raise Unauthorized(
            "The access token does not grant the required scope",
            reasons=[f"This operation requires the scope {scope.value}"],
        )
    # The request's one read of its tenant (server/_tenant_now.py). Issue 13, item 1:
    # the tenant's clock, read fresh with every request, decides the token's expiry
    # and is the request's "now" from here on.
    now = found.now.read(principal.tenant_id)
    if not is_current(principal, now.clock.now()):
        raise Unauthorized(INVALID_TOKEN)
    # Issue 13, item 2: the tenant's fault rules may fire (read only if it has any).
    caller_admitted(request, has_fault_rules=now.has_fault_rules)
    return replace(principal, clock=now.clock, stamp=now.stamp)


def require_scope(scope: Scope) -> Callable[..., Principal]:
    """A dependency that admits callers whose token is valid here and has ``scope``."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    ) -> Principal:
        return check_access(request, credentials, scope)

    return check
