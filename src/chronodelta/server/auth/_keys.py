"""Installation secrets kept in the database: JWT signing keys and the paging key.

Created by the first process that needs them; concurrent first starts (several
workers) race on the primary key and all end up using the one row that won.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from chronodelta.storage import plain_write_transaction, read_transaction
from chronodelta.storage.tables import server_secrets, signing_keys

ALGORITHM = "RS256"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def load_or_create_signing_key(engine: Engine) -> SigningKey:
    row = _oldest_key(engine)
    if row is None:
        # Racing first starts may each insert one; all of them use the oldest row.
        insert_new_signing_key(engine)
        row = _oldest_key(engine)
    assert row is not None
    key = serialization.load_pem_private_key(row.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SigningKey(row.kid, key)


def _oldest_key(engine: Engine) -> sa.Row[Any] | None:
    with read_transaction(engine) as connection:
        return connection.execute(
            sa.select(signing_keys).order_by(signing_keys.c.created_at).limit(1)
        ).first()


def insert_new_signing_key(engine: Engine) -> str:
    """Store a new RSA signing key; returns its kid."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = uuid.uuid4().hex
    with plain_write_transaction(engine) as connection:
        connection.execute(
            signing_keys.insert().values(
                kid=kid,
                algorithm=ALGORITHM,
                private_key_pem=pem,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    return kid


def load_or_create_secret(engine: Engine, name: str) -> bytes:
    """A 32-byte random secret shared by every worker, created on first use."""
    query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    with read_transaction(engine) as connection:
        value = connection.scalar(query)
    if value is None:
        fresh = base64.b64encode(secrets.token_bytes(32)).decode()
        try:
            with plain_write_transaction(engine) as connection:
                connection.execute(server_secrets.insert().values(name=name, value=fresh))
        except IntegrityError:
            pass  # another worker created it first; use theirs
        with read_transaction(engine) as connection:
            value = connection.scalar(query)
    assert value is not None
    return base64.b64decode(value)
