"""API clients: their credentials, checking a secret, and the token request limit.

Client secrets are stored only as argon2id hashes. An unknown client id costs the
same verification as a wrong secret, so that timing does not tell which ids exist.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server._errors import TooManyRequests, Unauthorized
from chronodelta.storage import is_postgresql, plain_write_transaction, read_transaction
from chronodelta.storage.tables import api_clients, tenants, token_request_windows

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
