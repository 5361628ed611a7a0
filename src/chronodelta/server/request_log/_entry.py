"""One row of the request log, and what of a call may be written into it.

Issue 13, item 3: "never a secret or a token". So: no header is kept (Authorization
never); the token endpoint's form keeps only ``grant_type``, ``client_id`` and
``scope`` (never ``client_secret``); a token in the query (``deltaToken``,
``continuationToken``, ...) is replaced by a short digest, which still tells two
tokens apart. Request bodies of writes are kept up to a configurable size.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

import orjson

# Query parameters whose values are credentials or capabilities (lower-case names).
_TOKEN_PARAMETERS = frozenset(
    {"deltatoken", "continuationtoken", "access_token", "token", "client_secret", "code"}
)
# What the token endpoint's form may show of itself.
_TOKEN_FORM_FIELDS = ("grant_type", "client_id", "scope")
# How much of an error response is read for its code and reasons.
ERROR_BODY_BYTES = 16 * 1024


@dataclass(frozen=True)
class LogEntry:
    """A call as the worker saw it, before it has a row id."""

    tenant: str
    logged_at: dt.datetime
    client_id: str | None
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    response_bytes: int
    error_code: str | None = None
    error_reasons: tuple[str, ...] | None = None
    fault_rule_id: int | None = None
    fault: str | None = None
    request_body: str | None = None
    request_body_truncated: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    """A row of the log, as ``query_request_log`` returns it."""

    id: int
    tenant: str
    logged_at: dt.datetime
    client_id: str | None
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    response_bytes: int
    error_code: str | None
    error_reasons: tuple[str, ...] | None
    fault_rule_id: int | None
    fault: str | None
    request_body: str | None
    request_body_truncated: bool

    def to_json(self) -> dict[str, Any]:
        """The shape the admin API, the CLI's ``--json`` and the console show."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "time": self.logged_at.isoformat(),
            "clientId": self.client_id,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "durationMs": round(self.duration_ms, 3),
            "responseBytes": self.response_bytes,
            "errorCode": self.error_code,
            "errorReasons": list(self.error_reasons) if self.error_reasons is not None else None,
            "faultRuleId": self.fault_rule_id,
            "fault": self.fault,
            "requestBody": self.request_body,
            "requestBodyTruncated": self.request_body_truncated,
        }


def redacted_query(raw: bytes) -> str:
    """The query string, decoded for reading, with token values replaced by a digest."""
    parts = []
    for part in raw.decode("latin-1").split("&") if raw else ():
        name, equals, value = part.partition("=")
        if equals and unquote_plus(name).lower() in _TOKEN_PARAMETERS:
            value = "redacted-" + hashlib.sha256(unquote_plus(value).encode()).hexdigest()[:10]
        parts.append(unquote_plus(name) + equals + unquote_plus(value))
    return "&".join(parts)


def token_form_summary(body: bytes) -> str:
    """The token request's form with only its harmless fields (never the secret)."""
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return "&".join(f"{name}={fields[name]}" for name in _TOKEN_FORM_FIELDS if name in fields)


def token_client_id(authorization: bytes, body: bytes) -> str | None:
    """The client a token request names: HTTP Basic's user, or the form's ``client_id``."""
    if authorization[:6].lower() == b"basic ":
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0])[:64] or None
    fields = dict(parse_qsl(body.decode("utf-8", "replace")))
    client_id = fields.get("client_id")
    return client_id[:64] if client_id else None


def error_details(status: int, body: bytes) -> tuple[str | None, tuple[str, ...] | None]:
    """The error body's code and reasons (its message when it gives no reasons)."""
    if status < 400 or not body:
        return None, None
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    reasons = error.get("reasons")
    if not isinstance(reasons, list) or not reasons:
        reasons = [error.get("message")] if isinstance(error.get("message"), str) else []
    return (
        str(code)[:64] if code is not None else None,
        tuple(str(reason) for reason in reasons),
    )
