"""Operating API clients: list them, revoke one, rotate a secret (issue 10, item 9).

A client id is no secret (it is in every access token); the secret is, and only its
argon2 hash is kept. Revoking refuses the client's secret at once and its access
tokens within the revocation refresh interval in every worker
(``auth._revocations``). Rotating returns a new secret, shown once; the previous one
is still accepted for a grace period, so that an integration can switch over without
downtime.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.domain import Scope
from chronodelta.server._clock import utc_now
from chronodelta.server.admin._tenants import AdminError, NewClient, tenant_id
from chronodelta.server.auth._clients import hash_secret, new_client_credentials
from chronodelta.storage import plain_write_transaction, read_transaction, tables

# Long enough to deploy a new secret to every instance of an integration.
DEFAULT_SECRET_GRACE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class ClientInfo:
    """What an operator may see of a client: never its secret or its hash."""

    tenant: str
    client_id: str
    scopes: tuple[str, ...]
    description: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    previous_secret_until: dt.datetime | None


def list_clients(engine: Engine, tenant: str | None = None) -> list[ClientInfo]:
    """The API clients, of one tenant or of all, by tenant and creation."""
    clients, tenants = tables.api_clients, tables.tenants
    query = (
        sa.select(clients, tenants.c.name.label("tenant"))
        .join(tenants, tenants.c.id == clients.c.tenant_id)
        .order_by(tenants.c.name, clients.c.created_at, clients.c.client_id)
    )
    if tenant is not None:
        query = query.where(clients.c.tenant_id == tenant_id(engine, tenant))
    with read_transaction(engine) as connection:
        return [_info(row) for row in connection.execute(query)]


def revoke_client(engine: Engine, tenant: str, client_id: str) -> ClientInfo:
    """Refuse the client's secret and tokens from now on (revoking twice changes nothing)."""
    clients = tables.api_clients
    key = _key(engine, tenant, client_id)
    with plain_write_transaction(engine) as connection:
        connection.execute(
            clients.update()
            .where(*key, clients.c.revoked_at.is_(None))
            .values(revoked_at=utc_now(), previous_secret_hash=None, previous_secret_until=None)
        )
    return _one(engine, tenant, client_id)


def rotate_client_secret(
    engine: Engine, tenant: str, client_id: str, grace: dt.timedelta = DEFAULT_SECRET_GRACE
) -> NewClient:
    """A new secret (returned once); the current one stays valid for ``grace``."""
    if grace < dt.timedelta(0):
        raise AdminError("the grace period cannot be negative")
    _, secret = new_client_credentials()
    clients = tables.api_clients
    key = _key(engine, tenant, client_id)
    with plain_write_transaction(engine) as connection:
        row = connection.execute(sa.select(clients).where(*key)).first()
        if row is None or row.revoked_at is not None:
            raise AdminError(f"client {client_id!r} of tenant {tenant!r} is revoked")
        connection.execute(
            clients.update()
            .where(*key)
            .values(
                secret_hash=hash_secret(secret),
                previous_secret_hash=row.secret_hash if grace else None,
                previous_secret_until=utc_now() + grace if grace else None,
            )
        )
    scopes = tuple(Scope(name) for name in row.scopes.split())
    return NewClient(tenant, client_id, secret, scopes)


def _key(engine: Engine, tenant: str, client_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The client's row condition; AdminError if the tenant has no such client."""
    _one(engine, tenant, client_id)
    clients = tables.api_clients
    return (clients.c.tenant_id == tenant_id(engine, tenant), clients.c.client_id == client_id)


def _one(engine: Engine, tenant: str, client_id: str) -> ClientInfo:
    found = [c for c in list_clients(engine, tenant) if c.client_id == client_id]
    if not found:
        raise AdminError(
            f"tenant {tenant!r} has no client {client_id!r} "
            f"(see: chronodelta clients list --tenant {tenant})"
        )
    return found[0]


def _info(row: sa.Row[object]) -> ClientInfo:
    return ClientInfo(
        tenant=str(row.tenant),
        client_id=str(row.client_id),
        scopes=tuple(str(row.scopes).split()),
        description=str(row.description),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        previous_secret_until=row.previous_secret_until,
    )
