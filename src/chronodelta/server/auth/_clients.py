"""API clients: their credentials and checking a secret (the limits: ``auth._limits``).

Client secrets are stored only as argon2id hashes. An unknown client id costs the
same verification as a wrong secret, so that timing does not tell which ids exist.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server._clock import as_utc, utc_now
from chronodelta.server._errors import Unauthorized
from chronodelta.storage import read_transaction
from chronodelta.storage.tables import api_clients, tenants

INVALID_CLIENT = "Invalid client credentials"

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
class RegisteredClient:
    tenant_id: int
    tenant: str
    client_id: str
    scopes: tuple[Scope, ...]


@dataclass(frozen=True, slots=True)
class StoredClient:
    """A client as stored: what checking its secret needs, and what a token carries."""

    registered: RegisteredClient
    secret_hash: str
    # Issue 10, item 9: after ``clients rotate-secret`` the previous secret is still
    # accepted until ``previous_secret_until`` (checked at lookup: None once past).
    previous_secret_hash: str | None = None


def find_client(connection: sa.Connection, tenant: str, client_id: str) -> StoredClient | None:
    """The client ``client_id`` of ``tenant``, if there is one and it is not revoked.

    A revoked client is treated as unknown (issue 10, item 9): its right secret gets
    the same answer, after the same work, as any wrong one.
    """
    c = api_clients.c
    query = (
        sa.select(
            c.secret_hash, c.previous_secret_hash, c.previous_secret_until, c.scopes, tenants.c.id
        )
        .join(tenants, tenants.c.id == c.tenant_id)
        .where(c.client_id == client_id, tenants.c.name == tenant, c.revoked_at.is_(None))
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    granted = tuple(Scope(s) for s in row.scopes.split())
    until = row.previous_secret_until
    in_grace = until is not None and as_utc(until) > utc_now()
    return StoredClient(
        RegisteredClient(row.id, tenant, client_id, granted),
        row.secret_hash,
        row.previous_secret_hash if in_grace else None,
    )


def secret_matches(client: StoredClient | None, secret: str) -> bool:
    """Whether ``secret`` is the client's: the one argon2id verification of a token
    request. An unknown client (None) costs the same, so timing does not tell it."""
    if client is None:
        verifies(_DUMMY_HASH, secret)
        return False
    if verifies(client.secret_hash, secret):
        return True
    # During a rotation's grace period a wrong secret costs a second verification: the
    # timing then tells that the client rotated recently, which is no secret worth
    # the cost of hiding it.
    return client.previous_secret_hash is not None and verifies(
        client.previous_secret_hash, secret
    )


def verifies(stored_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def authenticate_client(
    engine: Engine, tenant: str, client_id: str, client_secret: str
) -> RegisteredClient:
    """The client, if ``client_id``/``client_secret`` are valid in ``tenant`` (no limits:
    the token endpoint bounds this work, ``auth._limits``)."""
    with read_transaction(engine) as connection:
        client = find_client(connection, tenant, client_id)
    if client is None or not secret_matches(client, client_secret):
        raise Unauthorized(INVALID_CLIENT)
    return client.registered
