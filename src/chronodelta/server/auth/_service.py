"""The token endpoint's operations: issue a token, the discovery document, the JWKS.

Contract, "Authentication and scopes": client credentials, form-encoded; the reply is
``{"access_token", "expires_in", "token_type": "Bearer", "scope"}``; a client may only
be granted the scopes its registration allows (no scope asked: all of them).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import ALL_SCOPES, UnknownScopeError, format_scopes, parse_scopes
from chronodelta.server._errors import BadRequest, NotFound
from chronodelta.server._settings import Settings
from chronodelta.server.auth._clients import authenticate_client, check_token_rate
from chronodelta.server.auth._keys import ALGORITHM
from chronodelta.server.auth._tokens import TokenService
from chronodelta.storage import read_transaction, tables


class AuthService:
    def __init__(self, engine: Engine, tokens: TokenService, settings: Settings) -> None:
        self._engine = engine
        self._tokens = tokens
        self._settings = settings

    def issue_token(
        self, tenant: str, client_id: str, secret: str, requested: str, issuer: str
    ) -> dict[str, Any]:
        """A token for the client's requested scopes; 400, 401 or 429 otherwise."""
        check_token_rate(
            self._engine, f"{tenant}/{client_id}", self._settings.token_requests_per_minute
        )
        client = authenticate_client(self._engine, tenant, client_id, secret)
        try:
            wanted = parse_scopes(requested) if requested.strip() else client.scopes
        except UnknownScopeError as exc:
            raise BadRequest(reasons=[f"Unknown scope: {name}" for name in exc.names]) from None
        refused = [s.value for s in wanted if s not in client.scopes]
        if refused:
            raise BadRequest(reasons=[f"Scope not granted to this client: {s}" for s in refused])
        return {
            "access_token": self._tokens.issue(client, wanted, issuer),
            "expires_in": self._tokens.lifetime_seconds,
            "token_type": "Bearer",
            "scope": format_scopes(wanted),
        }

    def discovery(self, tenant: str, issuer: str) -> dict[str, Any]:
        """The tenant's OpenID Connect discovery document (404 for an unknown tenant)."""
        self._require_tenant(tenant)
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/connect/token",
            "jwks_uri": f"{issuer}/.well-known/openid-configuration/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": [s.value for s in ALL_SCOPES],
            "response_types_supported": ["token"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "subject_types_supported": ["public"],
        }

    def jwks(self, tenant: str) -> dict[str, Any]:
        """The public keys that sign the tenant's tokens (404 for an unknown tenant)."""
        self._require_tenant(tenant)
        return self._tokens.jwks

    def _require_tenant(self, tenant: str) -> None:
        query = sa.select(tables.tenants.c.id).where(tables.tenants.c.name == tenant)
        with read_transaction(self._engine) as connection:
            if connection.scalar(query) is None:
                raise NotFound("No such tenant")
