"""HMAC-signed, URL-safe tokens: the continuation and delta tokens are built on this.

A token is ``base64url(json payload) "." base64url(truncated HMAC-SHA256)``. The key is
the installation secret shared by all workers (``_keys.load_or_create_secret``), and
every payload names its purpose, so a token of one kind is never accepted as another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

_SIGNATURE_BYTES = 16
_MAX_PART = 4096


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = orjson.dumps({"p": purpose, **payload})
        return _b64(body) + "." + _b64(self._mac(body))

    def verify(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The payload, or None when the token is malformed, altered or of another purpose."""
        body_text, _, signature_text = token.partition(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
        if body is None or signature is None or not hmac.compare_digest(signature, self._mac(body)):
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict) or payload.get("p") != purpose:
            return None
        return payload

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    if not text or len(text) > _MAX_PART:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    # The last character of unpadded base64 has bits the decoder ignores; accept only
    # the canonical spelling, so that every token has exactly one valid form.
    return data if _b64(data) == text else None
