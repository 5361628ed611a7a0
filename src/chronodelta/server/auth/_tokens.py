"""Access tokens: issued as signed JWTs, verified (and cached) on every request.

Contract, "Authentication and scopes": tokens are per tenant, live 1,800 s and carry
the granted scopes; a missing, invalid or expired token, a token of another tenant,
or a missing scope all give 401. Every refusal says the same few words, so that a
caller learns nothing about other tenants or clients.

Issue 13, item 1: a token's times are its tenant's (``server/clock``). It is issued
at the tenant's time t (``iat``, ``nbf``) and expires at t + 1,800 s of that time, so
``clock advance 73h`` expires it at once; ``verify`` checks the signature and claims,
and the request's access check compares the times with the tenant's clock as read for
that request (``is_current``), never the wall clock.

Issue 10, item 10: the issuer (``iss``) is ``<base>/tenants/<tenant>``. With
``CHRONODELTA_PUBLIC_URL`` the base is that URL, and a token must carry exactly that
issuer. Without it the base is the URL the request reached the server at, and any
base is accepted, as long as the issuer names the token's own tenant: one
installation answers on several hosts (127.0.0.1, localhost, acme.myprotime.eu), and
a server restarted on another port keeps accepting the tokens it issued before.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

from chronodelta.domain import Scope, format_scopes
from chronodelta.server._errors import Unauthorized
from chronodelta.server.auth._clients import RegisteredClient
from chronodelta.server.auth._keyring import KeyRing
from chronodelta.server.auth._keys import ALGORITHM
from chronodelta.server.clock._model import WALL_CLOCK, TenantClock

if TYPE_CHECKING:  # the request's read imports features that import auth
    from chronodelta.server._tenant_now import TenantStamp

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
    not_before: int = 0
    # The tenant's clock and stamp as this request read them (auth._access.check_access;
    # no stamp before it).
    clock: TenantClock = WALL_CLOCK
    stamp: TenantStamp | None = None


def is_current(principal: Principal, moment: dt.datetime) -> bool:
    """Whether the token is valid at ``moment`` (its tenant's time): nbf <= moment < exp,
    as PyJWT checks them with no leeway. A token from the tenant's future (issued before
    ``clock reset``) is not valid yet."""
    return principal.not_before <= moment.timestamp() < principal.expires_at


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

    def issue(
        self,
        client: RegisteredClient,
        scopes: tuple[Scope, ...],
        issuer: str,
        now: dt.datetime | None = None,
    ) -> str:
        """A token issued at ``now``, the client's tenant's time (default: the wall clock)."""
        moment = int(now.timestamp() if now is not None else time.time())
        claims = {
            "iss": issuer,
            "aud": AUDIENCE,
            "sub": client.client_id,
            "client_id": client.client_id,
            "tenant": client.tenant,
            "tid": client.tenant_id,
            "scope": format_scopes(scopes),
            "iat": moment,
            "nbf": moment,
            "exp": moment + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        key = self._keys.signing_key()
        return jwt.encode(claims, key.private_key, ALGORITHM, headers={"kid": key.kid})

    def verify(self, token: str) -> Principal:
        """The token's principal, or Unauthorized. Never any other exception.

        Its times are not checked here: they are the tenant's (``is_current``).
        """
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
                options={
                    "require": ["exp", "iat", "iss", "tenant", "tid", "scope", "client_id"],
                    # The tenant's clock decides (is_current), not this process's.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
            if not self._issued_here(claims["iss"], str(claims["tenant"])):
                raise Unauthorized(INVALID_TOKEN)
            principal = Principal(
                tenant_id=int(claims["tid"]),
                tenant=str(claims["tenant"]),
                client_id=str(claims["client_id"]),
                scopes=frozenset(str(claims["scope"]).split()),
                expires_at=int(claims["exp"]),
                not_before=int(claims.get("nbf", claims["iat"])),
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
