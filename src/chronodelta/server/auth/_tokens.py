"""Access tokens: issued as signed JWTs, verified (and cached) on every request.

Contract, "Authentication and scopes": tokens are per tenant, live 1,800 s and carry
the granted scopes; a missing, invalid or expired token, a token of another tenant,
or a missing scope all give 401. Every refusal says the same few words, so that a
caller learns nothing about other tenants or clients.

Issue 10, item 10: the issuer (``iss``) is ``<base>/tenants/<tenant>``. With
``CHRONODELTA_PUBLIC_URL`` the base is that URL, and a token must carry exactly that
issuer. Without it the base is the URL the request reached the server at, and any
base is accepted, as long as the issuer names the token's own tenant: one
installation answers on several hosts (127.0.0.1, localhost, acme.myprotime.eu), and
a server restarted on another port keeps accepting the tokens it issued before.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any
from urllib.parse import urlsplit

import jwt

from chronodelta.domain import Scope, format_scopes
from chronodelta.server._errors import Unauthorized
from chronodelta.server.auth._clients import RegisteredClient
from chronodelta.server.auth._keyring import KeyRing
from chronodelta.server.auth._keys import ALGORITHM

AUDIENCE = "connector-protimeapi"
INVALID_TOKEN = "The access token is missing, invalid or expired"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant and API client of a verified access token."""

    tenant_id: int
    tenant: str
    client_id: str
    scopes: frozenset[str]
    expires_at: int


class TokenService:
    """Issues and verifies signed access tokens; verified tokens are cached.

    The keys come from a ``KeyRing`` (issue 10, item 11): new tokens are signed with its
    current key, and a token is verified with the key its ``kid`` names, while that key
    is still published.
    """

    def __init__(
        self,
        keys: KeyRing,
        lifetime_seconds: int,
        cache_size: int = 4096,
        public_url: str | None = None,
    ) -> None:
        self._keys = keys
        self._public_url = normalise_public_url(public_url) if public_url else None
        self.lifetime_seconds = lifetime_seconds
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def issuer(self, tenant: str, request_base_url: str) -> str:
        """The issuer of ``tenant``'s tokens, for a request that reached ``request_base_url``."""
        base = self._public_url or request_base_url.rstrip("/")
        return f"{base}/tenants/{tenant}"

    def _issued_here(self, issuer: object, tenant: str) -> bool:
        if self._public_url is not None:
            return issuer == f"{self._public_url}/tenants/{tenant}"
        return (
            isinstance(issuer, str)
            and issuer.startswith(("http://", "https://"))
            and issuer.endswith(f"/tenants/{tenant}")
        )

    def jwks(self) -> dict[str, Any]:
        return self._keys.jwks()

    def issue(self, client: RegisteredClient, scopes: tuple[Scope, ...], issuer: str) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": AUDIENCE,
            "sub": client.client_id,
            "client_id": client.client_id,
            "tenant": client.tenant,
            "tid": client.tenant_id,
            "scope": format_scopes(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        key = self._keys.signing_key()
        return jwt.encode(claims, key.private_key, ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> Principal:
        """The token's principal, or Unauthorized. Never any other exception."""
        cached = self._cache_get(token)
        if cached is not None:
            return cached
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            public_key = self._keys.public_key(kid) if isinstance(kid, str) else None
            if public_key is None:
                raise Unauthorized(INVALID_TOKEN)
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "iss", "tenant", "tid", "scope", "client_id"]},
            )
            if not self._issued_here(claims["iss"], str(claims["tenant"])):
                raise Unauthorized(INVALID_TOKEN)
            principal = Principal(
                tenant_id=int(claims["tid"]),
                tenant=str(claims["tenant"]),
                client_id=str(claims["client_id"]),
                scopes=frozenset(str(claims["scope"]).split()),
                expires_at=int(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized(INVALID_TOKEN) from None
        self._cache_put(token, principal)
        return principal

    def _cache_get(self, token: str) -> Principal | None:
        with self._lock:
            principal = self._cache.get(token)
            if principal is None:
                return None
            if principal.expires_at <= time.time():
                del self._cache[token]
                return None
            self._cache.move_to_end(token)
            return principal

    def _cache_put(self, token: str, principal: Principal) -> None:
        with self._lock:
            self._cache[token] = principal
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def normalise_public_url(url: str) -> str:
    """``CHRONODELTA_PUBLIC_URL`` without its trailing slash; ValueError unless it is an
    absolute http(s) URL without query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            "CHRONODELTA_PUBLIC_URL must be an http:// or https:// URL without query or "
            f"fragment, such as https://api.example.com, got {url!r}"
        )
    return url.strip().rstrip("/")
