"""OAuth2 client credentials: clients, access tokens, and the per-request check.

Contract, "Authentication and scopes": tokens are per tenant, live 1,800 s and carry
the granted scopes; a missing, invalid or expired token, a token of another tenant,
or a missing scope all give 401. Every refusal says the same few words, so that a
caller learns nothing about other tenants or clients.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope, format_scopes
from chronodelta.server._errors import TooManyRequests, Unauthorized
from chronodelta.server.auth._keys import ALGORITHM, SigningKey
from chronodelta.storage import is_postgresql, plain_write_transaction, read_transaction
from chronodelta.storage.tables import api_clients, tenants, token_request_windows

AUDIENCE = "connector-protimeapi"
INVALID_CLIENT = "Invalid client credentials"
INVALID_TOKEN = "The access token is missing, invalid or expired"

# Client secrets are 256-bit random strings, not passwords a person chose: no
# dictionary helps an attacker, so OWASP's minimum argon2id cost (19 MiB, 2 passes)
# is plenty, and it keeps a token request in the tens of milliseconds.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the client id is unknown, so that an unknown id costs the
# same time as a wrong secret and timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def new_client_credentials() -> tuple[str, str]:
    """A fresh client id and secret; only the secret's argon2 hash is ever stored."""
    return f"cd-{uuid.uuid4().hex[:20]}", secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant and API client of a verified access token."""

    tenant_id: int
    tenant: str
    client_id: str
    scopes: frozenset[str]
    expires_at: int


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    tenant_id: int
    tenant: str
    client_id: str
    scopes: tuple[Scope, ...]


def authenticate_client(
    engine: Engine, tenant: str, client_id: str, client_secret: str
) -> RegisteredClient:
    """The client, if ``client_id``/``client_secret`` are valid in ``tenant``."""
    query = (
        sa.select(api_clients.c.secret_hash, api_clients.c.scopes, tenants.c.id)
        .join(tenants, tenants.c.id == api_clients.c.tenant_id)
        .where(api_clients.c.client_id == client_id, tenants.c.name == tenant)
    )
    with read_transaction(engine) as connection:
        row = connection.execute(query).first()
    stored_hash = row.secret_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored_hash, client_secret)
    except (VerificationError, InvalidHashError):
        raise Unauthorized(INVALID_CLIENT) from None
    if row is None:
        raise Unauthorized(INVALID_CLIENT)
    granted = tuple(Scope(s) for s in row.scopes.split())
    return RegisteredClient(row.id, tenant, client_id, granted)


class TokenService:
    """Issues and verifies signed access tokens; verified tokens are cached."""

    def __init__(self, key: SigningKey, lifetime_seconds: int, cache_size: int = 4096) -> None:
        self._key = key
        self._public_key = key.private_key.public_key()
        self.lifetime_seconds = lifetime_seconds
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._key.public_jwk()]}

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
        return jwt.encode(claims, self._key.private_key, ALGORITHM, headers={"kid": self._key.kid})

    def verify(self, token: str) -> Principal:
        """The token's principal, or Unauthorized. Never any other exception."""
        cached = self._cache_get(token)
        if cached is not None:
            return cached
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "iat", "tenant", "tid", "scope", "client_id"]},
            )
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


def check_token_rate(engine: Engine, client_key: str, per_minute: int) -> None:
    """Count one token request for ``client_key``; 429 past ``per_minute``.

    A fixed one-minute window counted in the database, so that the limit holds
    however many worker processes serve the token endpoint.
    """
    now = time.time()
    window = int(now // 60) * 60
    count = _bump_window(engine, client_key[:200], window)
    if count > per_minute:
        raise TooManyRequests(
            int(window + 60 - now) + 1, "Too many token requests; retry after the given delay"
        )


def _bump_window(engine: Engine, client_key: str, window: int) -> int:
    table = token_request_windows
    insert = pg_insert(table) if is_postgresql(engine) else sqlite_insert(table)
    statement = (
        insert.values(client_key=client_key, window_start=window, request_count=1)
        .on_conflict_do_update(
            index_elements=[table.c.client_key, table.c.window_start],
            set_={"request_count": table.c.request_count + 1},
        )
        .returning(table.c.request_count)
    )
    with plain_write_transaction(engine) as connection:
        count = int(connection.execute(statement).scalar_one())
        if count == 1:  # first request of a new window: forget this client's old ones
            connection.execute(
                table.delete().where(
                    table.c.client_key == client_key, table.c.window_start < window
                )
            )
    return count


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
