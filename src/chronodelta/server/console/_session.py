"""The console's session cookie and CSRF tokens: HMAC-signed, checked without storage.

A session is the operator's name, an expiry and a random id, signed with a secret
every worker shares (``auth._keys.load_or_create_secret``) and with a digest of the
operator's current password hash: giving the operator a new password
(``chronodelta operators set-password``) ends every session it had, in every worker.
The CSRF token of a session is an HMAC of its id (a per-session token, put in a hidden
field of every form and compared on POST); before login, a random nonce in its own
cookie plays the session id's part (the login form is a form too).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

SESSION_COOKIE = "chronodelta_console"
LOGIN_COOKIE = "chronodelta_console_login"
# A working day: an operator logs in again the next morning.
SESSION_LIFETIME = dt.timedelta(hours=8)
LOGIN_FORM_LIFETIME = dt.timedelta(hours=1)
_VERSION = "v1"


@dataclass(frozen=True)
class Session:
    operator: str
    expires_at: int  # Unix seconds
    session_id: str

    def expired(self, now: dt.datetime) -> bool:
        return now.timestamp() >= self.expires_at


def new_session(operator: str, now: dt.datetime) -> Session:
    return Session(operator, int((now + SESSION_LIFETIME).timestamp()), secrets.token_urlsafe(16))


class SessionSigner:
    """Signs and checks session cookies and CSRF tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def cookie(self, session: Session, password_hash: str) -> str:
        payload = _b64(
            orjson.dumps({"o": session.operator, "e": session.expires_at, "s": session.session_id})
        )
        return f"{_VERSION}.{payload}.{self._mac(payload, password_hash)}"

    def unverified_operator(self, cookie: str) -> str | None:
        """The operator a cookie names, read before its signature can be checked (the
        signature covers the operator's password hash, which must be looked up first)."""
        session = _parse(cookie)
        return None if session is None else session[1].operator

    def verified(self, cookie: str, password_hash: str, now: dt.datetime) -> Session | None:
        """The cookie's session if it is signed for this password hash and not expired."""
        parsed = _parse(cookie)
        if parsed is None:
            return None
        payload, session = parsed
        expected = self._mac(payload, password_hash)
        if not hmac.compare_digest(cookie.rsplit(".", 1)[1], expected):
            return None
        return None if session.expired(now) else session

    def csrf_token(self, session_id: str) -> str:
        return self._digest(b"csrf\0" + session_id.encode())

    def csrf_matches(self, session_id: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session_id), token)

    def _mac(self, payload: str, password_hash: str) -> str:
        fingerprint = hashlib.sha256(password_hash.encode()).hexdigest()
        return self._digest(f"session\0{payload}\0{fingerprint}".encode())

    def _digest(self, message: bytes) -> str:
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())


def new_login_nonce() -> str:
    return secrets.token_urlsafe(16)


def _parse(cookie: str) -> tuple[str, Session] | None:
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        session = Session(str(data["o"]), int(data["e"]), str(data["s"]))
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return parts[1], session


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
