"""Signed, opaque continuation tokens (contract, "Paging").

A token names the tenant, the collection, a digest of the filter it was issued for
and the keyset position of the last record sent. It is signed (``_signing.py``), so a
client can neither forge a position nor reuse a token with another filter or tenant.
A token that cannot be used is a 409 "Continuation token conflict" (contract,
"Fidelity", "Paging"), as the vendor's list pages say. Tokens do not expire: a
keyset position stays valid however long a client waits between pages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from chronodelta.server._errors import ContinuationTokenConflict
from chronodelta.server._signing import TokenSigner

PURPOSE = "page"
INVALID = "The continuationToken is invalid; start the list again without one"


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where the next page starts: after this keyset value, in the tenant's state after
    its ``restores``-th restore (``server/snapshots/_epoch.py``)."""

    key: tuple[Any, ...]
    restores: int = 0


def filter_digest(canonical_filter: str) -> str:
    return hashlib.sha256(canonical_filter.encode()).hexdigest()[:24]


class PageTokenCodec:
    def __init__(self, signer: TokenSigner) -> None:
        self._signer = signer

    def encode(self, tenant_id: int, collection: str, digest: str, position: PagePosition) -> str:
        return self._signer.sign(
            PURPOSE,
            {
                "t": tenant_id,
                "c": collection,
                "f": digest,
                "k": list(position.key),
                "r": position.restores,
            },
        )

    def decode(
        self, token: str, tenant_id: int, collection: str, digest: str, restores: int = 0
    ) -> PagePosition:
        """The position a token names; 409 when it cannot be used, or when the tenant
        was restored (``restores``: its count now) since the token's page was read."""
        payload = self._signer.verify(PURPOSE, token)
        if payload is None or payload.get("t") != tenant_id or payload.get("c") != collection:
            raise ContinuationTokenConflict(reasons=[INVALID])
        key = payload.get("k")
        if not isinstance(key, list):
            raise ContinuationTokenConflict(reasons=[INVALID])
        if payload.get("f") != digest:
            raise ContinuationTokenConflict(
                reasons=[
                    "The continuationToken was issued for another filter; "
                    "follow nextLink as given or start again without a token"
                ]
            )
        if payload.get("r", 0) != restores:
            raise ContinuationTokenConflict(
                reasons=[
                    "The tenant was reset or restored after this list began; "
                    "start the list again without a token"
                ]
            )
        return PagePosition(tuple(key), restores)
