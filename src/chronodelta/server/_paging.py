"""Signed, opaque continuation tokens (contract, "Paging").

A token names the tenant, the collection, a digest of the filter it was issued for
and the keyset position of the last record sent. It is HMAC-signed with a secret
shared by all workers, so a client can neither forge a position nor reuse a token
with another filter or in another tenant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from ._errors import BadRequest

_SIGNATURE_BYTES = 16


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where the next page starts: after this keyset value."""

    key: tuple[Any, ...]


def filter_digest(canonical_filter: str) -> str:
    return hashlib.sha256(canonical_filter.encode()).hexdigest()[:24]


class PageTokenCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, tenant_id: int, collection: str, digest: str, position: PagePosition) -> str:
        payload = orjson.dumps({"t": tenant_id, "c": collection, "f": digest, "k": position.key})
        return _b64(payload) + "." + _b64(self._sign(payload))

    def decode(self, token: str, tenant_id: int, collection: str, digest: str) -> PagePosition:
        payload = self._verified_payload(token)
        try:
            data = orjson.loads(payload)
            same_scope = data["t"] == tenant_id and data["c"] == collection
            key = tuple(data["k"])
            same_filter = data["f"] == digest
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise _invalid() from None
        if not same_scope:
            raise _invalid()
        if not same_filter:
            raise BadRequest(
                reasons=["The continuationToken was issued for another filter; "
                         "follow nextLink as given or start again without a token"]
            )
        return PagePosition(key)

    def _verified_payload(self, token: str) -> bytes:
        body, _, signature = token.partition(".")
        try:
            payload = _unb64(body)
            given = _unb64(signature)
        except ValueError:
            raise _invalid() from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise _invalid()
        return payload

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _invalid() -> BadRequest:
    return BadRequest(reasons=["The continuationToken is invalid"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or len(text) > 4096:
        raise ValueError("bad token part")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("bad token part") from exc
