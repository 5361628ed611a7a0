"""The token endpoint's operations: issue a token, the discovery document, the JWKS.

Contract, "Authentication and scopes": client credentials, form-encoded; the reply is
``{"access_token", "expires_in", "token_type": "Bearer", "scope"}``; a client may only
be granted the scopes its registration allows (no scope asked: all of them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NoReturn

import anyio
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from chronodelta.domain import KNOWN_SCOPES, UnknownScopeError, format_scopes, parse_scopes
from chronodelta.server._errors import InvalidScope, Unauthorized
from chronodelta.server._settings import Settings
from chronodelta.server.auth._clients import INVALID_CLIENT, StoredClient, find_client
from chronodelta.server.auth._keys import ALGORITHM
from chronodelta.server.auth._limits import (
    SecretVerifier,
    bump_window,
    failure_key,
    issue_key,
    too_many,
    window_count,
    window_start,
)
from chronodelta.server.auth._tokens import TokenService
from chronodelta.server.clock._store import TenantClocks
from chronodelta.storage import read_transaction

TOO_MANY_FAILURES = "Too many failed token requests from this address; retry after the given delay"
TOO_MANY_TOKENS = "Too many token requests; retry after the given delay"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request as the route read it."""

    tenant: str
    client_id: str
    client_secret: str
    scope: str  # as asked: space-separated, or empty for every scope the client has
    issuer: str
    source: str  # the caller's address, from the ASGI scope (docs/security.md)


class AuthService:
    def __init__(
        self, engine: Engine, tokens: TokenService, settings: Settings, clocks: TenantClocks
    ) -> None:
        self._engine = engine
        self._tokens = tokens
        self._settings = settings
        self._clocks = clocks
        self._verifier = SecretVerifier(
            settings.token_verify_concurrency, settings.token_verify_wait_ms / 1000
        )
        self._failure_delay = max(0, settings.token_failure_delay_ms) / 1000

    async def issue_token(self, request: TokenRequest) -> dict[str, Any]:
        """A token for the client's requested scopes; 400, 401 or 429 otherwise.

        Issue 10, items 2 and 3 (docs/security.md): a known client's secret is always
        verified, so a right secret gets its token whatever others sent; failures count
        per source address, and past the limit a failure is a (delayed) 429 and an unknown
        client is refused without verifying. An unknown client and a wrong secret get the
        same answer, below the limit (401) and above it (429).
        """
        started, window = time.monotonic(), window_start(time.time())
        client, failures = await run_in_threadpool(self._claimed, request, window)
        blocked = failures >= self._settings.token_failures_per_minute
        if client is None and blocked:
            await self._too_many_failures(started, window)  # cannot succeed: spare the argon2
        if not await self._verifier.verify(client, request.client_secret):
            if blocked:
                await self._too_many_failures(started, window)
            await run_in_threadpool(bump_window, self._engine, failure_key(request.source), window)
            raise Unauthorized(INVALID_CLIENT)
        assert client is not None  # secret_matches is never true for an unknown client
        return await run_in_threadpool(self._issue, client, request)

    async def _too_many_failures(self, started: float, window: int) -> NoReturn:
        """429 for a source past its failure limit, answered the failure delay after the
        request came, whether its client exists or not: a flood from one address gets one
        answer per connection and delay (not as many as the worker can serve), and timing
        does not tell a real client id from a made-up one."""
        await anyio.sleep(max(0.0, started + self._failure_delay - time.monotonic()))
        raise too_many(window, TOO_MANY_FAILURES)

    def _claimed(self, request: TokenRequest, window: int) -> tuple[StoredClient | None, int]:
        """The client the request names (if any) and its source's failures so far."""
        with read_transaction(self._engine) as connection:
            client = find_client(connection, request.tenant, request.client_id)
            failures = window_count(connection, failure_key(request.source), window)
        return client, failures

    def _issue(self, client: StoredClient, request: TokenRequest) -> dict[str, Any]:
        """The token of an authenticated client: 400 for a scope it may not have, 429 past
        the tokens it may get per minute (counted only here, after its secret)."""
        registered = client.registered
        try:
            wanted = parse_scopes(request.scope) if request.scope.strip() else registered.scopes
        except UnknownScopeError as exc:
            raise InvalidScope(reasons=[f"Unknown scope: {name}" for name in exc.names]) from None
        refused = [s.value for s in wanted if s not in registered.scopes]
        if refused:
            raise InvalidScope(reasons=[f"Scope not granted to this client: {s}" for s in refused])
        window = window_start(time.time())
        key = issue_key(registered.tenant, registered.client_id)
        if bump_window(self._engine, key, window) > self._settings.token_requests_per_minute:
            raise too_many(window, TOO_MANY_TOKENS)
        # Issue 13, item 1: issued at the tenant's time, so it expires 1,800 s later in it.
        now = self._clocks.read(registered.tenant_id).now()
        return {
            "access_token": self._tokens.issue(registered, wanted, request.issuer, now),
            "expires_in": self._tokens.lifetime_seconds,
            "token_type": "Bearer",
            "scope": format_scopes(wanted),
        }

    def discovery(self, issuer: str) -> dict[str, Any]:
        """The OpenID Connect discovery document of the tenant ``issuer`` names.

        Issue 10, item 7: the same for every well-formed tenant name, known or not, and
        read from no database, so that it does not tell which tenants exist (the token
        endpoint answers an unknown tenant as an unknown client).
        """
        return {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/connect/token",
            "jwks_uri": f"{issuer}/.well-known/openid-configuration/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            # Every scope a token can carry (contract, "Fidelity", "Scopes").
            "scopes_supported": [s.value for s in KNOWN_SCOPES],
            "response_types_supported": ["token"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "subject_types_supported": ["public"],
        }

    def jwks(self) -> dict[str, Any]:
        """The installation's public signing keys: the same for every tenant (item 7)."""
        return self._tokens.jwks()
