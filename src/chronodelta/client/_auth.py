"""OAuth2 client credentials: the token request, and when a token must be renewed.

No I/O here: the clients send what ``token_request`` builds and hand the reply to
``TokenCache.store``. Times come from the caller's monotonic clock.

A token is reused until shortly before it expires: ``refresh_margin`` seconds early
(at most half its lifetime, so a short-lived token is still reused), measured from the
moment its request was *sent*, so network time only makes the estimate safer. When
the server refuses a token anyway (401), the client asks for a new one once
(``usable(..., stale=token)`` turns the refused token down) and repeats the call once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from ._exceptions import InvalidResponse

# The contract says a token lives 1,800 s; a reply without expires_in (OAuth2 only
# recommends it) is assumed to live this long, and a 401 renews it earlier if need be.
DEFAULT_LIFETIME = 300.0


class Credentials:
    """A client id and secret; the secret never appears in ``repr`` or ``str``."""

    __slots__ = ("_secret", "client_id")

    def __init__(self, client_id: str, client_secret: str) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._secret = client_secret

    def form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, client_secret='***')"

    __str__ = __repr__


def token_request(
    url: httpx.URL,
    credentials: Credentials,
    scopes: Sequence[str] | None,
    headers: dict[str, str],
) -> httpx.Request:
    """``POST {token_url}``, form-encoded client credentials (seed 004, step 1).

    Without ``scopes`` no ``scope`` is sent and the server grants what the client's
    registration allows (OAuth2's default, and what docs/api.md documents).
    """
    form = credentials.form()
    if scopes:
        form["scope"] = " ".join(str(scope) for scope in scopes)
    return httpx.Request("POST", url, data=form, headers=headers)


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    refresh_at: float
    scope: str | None

    def __repr__(self) -> str:
        return f"AccessToken(value='***', refresh_at={self.refresh_at!r}, scope={self.scope!r})"


class TokenCache:
    """The current access token and when to stop using it."""

    def __init__(self, refresh_margin: float = 60.0) -> None:
        if refresh_margin < 0:
            raise ValueError("refresh_margin must not be negative")
        self.refresh_margin = refresh_margin
        self._token: AccessToken | None = None

    @property
    def current(self) -> AccessToken | None:
        return self._token

    def usable(self, now: float, stale: str | None = None) -> str | None:
        """The token to send at ``now``; None if a new one is needed.

        ``stale`` is a token the server just refused: if it is still the cached one,
        a new one is needed (if another caller already replaced it, the new one is used).
        """
        token = self._token
        if token is None or now >= token.refresh_at:
            return None
        if stale is not None and token.value == stale:
            return None
        return token.value

    def store(self, body: object, requested_at: float) -> str:
        """Keep the token of a successful token reply, requested at ``requested_at``."""
        if not isinstance(body, dict):
            raise InvalidResponse("the token reply is not a JSON object")
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise InvalidResponse("the token reply has no access_token")
        token_type = body.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise InvalidResponse(f"unsupported token_type {token_type!r}")
        lifetime = body.get("expires_in", DEFAULT_LIFETIME)
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, int | float)
            or not math.isfinite(lifetime)
            or lifetime <= 0
        ):
            raise InvalidResponse(f"the token reply has an invalid expires_in {lifetime!r}")
        margin = min(self.refresh_margin, lifetime / 2)
        scope = body.get("scope")
        self._token = AccessToken(
            value, requested_at + lifetime - margin, scope if isinstance(scope, str) else None
        )
        return value

    def clear(self) -> None:
        self._token = None
