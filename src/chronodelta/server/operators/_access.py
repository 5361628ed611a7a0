"""The operator check of every ``/admin`` request: HTTP Basic with an operator's password.

Issue 13: "operator-only, never reachable with an API access token". A bearer token,
however valid for the API, is no operator credential: it gets the same 401 as none.
A checked credential is remembered for ``_REMEMBER_SECONDS`` in the worker, so that a
script calling the admin API does not pay an argon2id verification per request; a
reset password therefore stops working within that time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import Request

from chronodelta.server._errors import ApiError, TooManyRequests
from chronodelta.server._services import services
from chronodelta.server.operators._store import operator_password_matches

# Every sandbox control lives under this prefix; none is part of the vendor's API.
ADMIN_PREFIX = "/admin"
_REMEMBER_SECONDS = 10.0
_REMEMBERED_MAX = 256
# argon2id takes 19 MiB and tens of milliseconds: at most this many at once per worker.
_VERIFICATIONS = threading.BoundedSemaphore(2)
_VERIFY_WAIT_SECONDS = 1.0


class OperatorUnauthorized(ApiError):
    status_code = 401
    code = "Unauthorized"
    default_message = "Operator credentials are required (HTTP Basic, an operator's password)"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Basic realm="chronodelta admin"'})


@dataclass(frozen=True)
class Operator:
    name: str


class _Remembered:
    """Credentials checked lately in this worker, by a digest (never the password)."""

    def __init__(self) -> None:
        self._until: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: bytes) -> str | None:
        with self._lock:
            found = self._until.get(digest)
            if found is None or found[1] < time.monotonic():
                self._until.pop(digest, None)
                return None
            return found[0]

    def put(self, digest: bytes, name: str) -> None:
        with self._lock:
            self._until[digest] = (name, time.monotonic() + _REMEMBER_SECONDS)
            while len(self._until) > _REMEMBERED_MAX:
                self._until.popitem(last=False)


_remembered = _Remembered()


def require_operator(request: Request) -> Operator:
    """The operator the request's HTTP Basic credentials name; 401 otherwise."""
    name, password = _basic_credentials(request.headers.get("authorization", ""))
    digest = hashlib.sha256(f"{name}\0{password}".encode()).digest()
    if _remembered.get(digest) == name:
        return Operator(name)
    if not _VERIFICATIONS.acquire(timeout=_VERIFY_WAIT_SECONDS):
        raise TooManyRequests(1, "Too many operator logins at once; retry")
    try:
        matches = operator_password_matches(services(request).engine, name, password)
    finally:
        _VERIFICATIONS.release()
    if not matches:
        raise OperatorUnauthorized()
    _remembered.put(digest, name)
    return Operator(name)


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise OperatorUnauthorized()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        name, colon, password = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OperatorUnauthorized() from None
    if not colon or not name or not password:
        raise OperatorUnauthorized()
    return name, password
