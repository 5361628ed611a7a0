"""The installation's signing keys, rotated without downtime (issue 10, item 11).

``chronodelta keys rotate`` adds a key. Every worker signs new tokens with the newest
key it knows and re-reads the keys every ``refresh_seconds``, or at once when a token
names a ``kid`` it does not know, so that a key added on a running server is used
and accepted everywhere. A key stays published in the JWKS, and accepted, while
tokens it signed can still be valid: until a token lifetime (plus a minute for
clocks and for workers still signing with it until their next refresh) after the
next key was added. Older keys are neither published nor accepted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import Engine

from chronodelta.server._clock import as_utc, utc_now
from chronodelta.server.auth._keys import (
    SigningKey,
    insert_new_signing_key,
    load_or_create_signing_key,
)
from chronodelta.storage import read_transaction, tables

_MARGIN = dt.timedelta(minutes=1)
# A token with an unknown kid makes a worker read the keys again, at most this often.
_UNKNOWN_KID_READS_SECONDS = 1.0
# A new key signs only once it is this old. A worker that last read the keys before
# the key existed has then read them more than _UNKNOWN_KID_READS_SECONDS ago, so the
# first token it sees with the new kid makes it read again: no worker refuses a token
# another worker has just signed.
ACTIVATION_DELAY = dt.timedelta(seconds=2 * _UNKNOWN_KID_READS_SECONDS)


@dataclass(frozen=True)
class StoredKey:
    key: SigningKey
    created_at: dt.datetime
    # When the next key was added (None for the newest): it signs nothing after that.
    superseded_at: dt.datetime | None


def read_signing_keys(engine: Engine) -> list[StoredKey]:
    """Every stored key, oldest first."""
    keys = tables.signing_keys
    with read_transaction(engine) as connection:
        rows = connection.execute(sa.select(keys).order_by(keys.c.created_at, keys.c.kid)).all()
    created = [as_utc(row.created_at) for row in rows]
    return [
        StoredKey(_signing_key(row.kid, row.private_key_pem), created[i], _next(created, i))
        for i, row in enumerate(rows)
    ]


@dataclass(frozen=True)
class KeyInfo:
    """What an operator sees of a signing key (never the key)."""

    kid: str
    created_at: dt.datetime
    superseded_at: dt.datetime | None


def list_signing_keys(engine: Engine) -> list[KeyInfo]:
    return [
        KeyInfo(s.key.kid, s.created_at, s.superseded_at) for s in read_signing_keys(engine)
    ]


def rotate_signing_key(engine: Engine) -> str:
    """Add a new signing key; returns its kid. Workers sign with it from their next read."""
    return insert_new_signing_key(engine)


class KeyRing:
    """One worker's view of the signing keys."""

    def __init__(
        self,
        engine: Engine,
        token_lifetime: dt.timedelta,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._now = now
        self._lifetime = token_lifetime
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = Lock()
        load_or_create_signing_key(engine)  # the first start creates the first key
        self._keys = read_signing_keys(engine)
        self._read_at = clock()

    def signing_key(self) -> SigningKey:
        """The newest key past its activation delay (the oldest while there is none:
        the first start, where racing workers may each have added one)."""
        self._read_if_older_than(self._refresh)
        active = self._now() - ACTIVATION_DELAY
        ready = [s for s in self._keys if s.created_at <= active]
        return ready[-1].key if ready else self._keys[0].key

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key of ``kid`` if it may verify tokens now, else None."""
        self._read_if_older_than(self._refresh)
        found = self._published(kid)
        if found is None:
            self._read_if_older_than(_UNKNOWN_KID_READS_SECONDS)
            found = self._published(kid)
        return None if found is None else found.private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        self._read_if_older_than(self._refresh)
        return {"keys": [stored.key.public_jwk() for stored in self._live()]}

    def _published(self, kid: str) -> SigningKey | None:
        return next((s.key for s in self._live() if s.key.kid == kid), None)

    def _live(self) -> list[StoredKey]:
        horizon = self._now() - self._lifetime - _MARGIN
        return [s for s in self._keys if s.superseded_at is None or s.superseded_at > horizon]

    def _read_if_older_than(self, seconds: float) -> None:
        if self._clock() - self._read_at < seconds:
            return
        with self._lock:
            if self._clock() - self._read_at < seconds:
                return  # another thread read them meanwhile
            self._keys = read_signing_keys(self._engine)
            self._read_at = self._clock()


def _next(created: list[dt.datetime], index: int) -> dt.datetime | None:
    return created[index + 1] if index + 1 < len(created) else None


def _signing_key(kid: str, pem: str) -> SigningKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SigningKey(kid, key)
