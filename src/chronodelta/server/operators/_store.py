"""Operator credentials: create or reset one, check one.

Passwords are generated (256 bits), never chosen, and stored as argon2id hashes with
the cost API client secrets use (``auth._clients``): no dictionary helps an attacker.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import utc_now
from chronodelta.server.admin._tenants import AdminError
from chronodelta.server.auth._clients import hash_secret, verifies
from chronodelta.storage import plain_write_transaction, read_transaction, tables

OPERATOR_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# The operator `chronodelta serve --demo` creates (and `make serve` prints).
DEMO_OPERATOR = "admin"
# Costs the same as a real check when the name is unknown, so that timing does not
# tell which operator names exist.
_DUMMY_HASH = hash_secret(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class NewOperatorPassword:
    name: str
    password: str  # shown once; only its hash is kept


def set_operator_password(engine: Engine, name: str) -> NewOperatorPassword:
    """Create the operator, or give it a new password (the old one stops working)."""
    if not OPERATOR_NAME.fullmatch(name):
        raise AdminError(
            f"invalid operator name {name!r}: use lower-case letters, digits, '_', '.'"
            " and '-', starting with a letter"
        )
    password = secrets.token_urlsafe(32)
    values = {"password_hash": hash_secret(password), "created_at": utc_now()}
    operators = tables.operators
    with plain_write_transaction(engine) as connection:
        changed = connection.execute(
            operators.update().where(operators.c.name == name).values(values)
        ).rowcount
        if not changed:
            connection.execute(operators.insert().values(name=name, **values))
    return NewOperatorPassword(name, password)


def list_operators(engine: Engine) -> list[str]:
    with read_transaction(engine) as connection:
        return list(
            connection.scalars(sa.select(tables.operators.c.name).order_by(tables.operators.c.name))
        )


def operator_password_matches(engine: Engine, name: str, password: str) -> bool:
    """One argon2id verification, whether or not the operator exists."""
    with read_transaction(engine) as connection:
        stored = connection.scalar(
            sa.select(tables.operators.c.password_hash).where(tables.operators.c.name == name)
        )
    if stored is None:
        verifies(_DUMMY_HASH, password)
        return False
    return verifies(stored, password)
