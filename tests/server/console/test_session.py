"""The console's session cookie and CSRF tokens, as pure functions (the HTTP tests in
test_console_access.py show them at work in a running server)."""

from __future__ import annotations

import datetime as dt

from chronodelta.server.console._session import SESSION_LIFETIME, SessionSigner, new_session

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_a_cookie_verifies_only_with_its_secret_its_password_hash_and_in_time() -> None:
    signer = SessionSigner(b"k" * 32)
    session = new_session("ops", NOW)
    cookie = signer.cookie(session, "hash-1")
    assert signer.unverified_operator(cookie) == "ops"
    assert signer.verified(cookie, "hash-1", NOW) == session
    assert signer.verified(cookie, "hash-2", NOW) is None  # a new password
    assert SessionSigner(b"x" * 32).verified(cookie, "hash-1", NOW) is None  # another secret
    assert signer.verified(cookie, "hash-1", NOW + SESSION_LIFETIME) is None  # expired
    version, payload, mac = cookie.split(".")
    other = signer.cookie(new_session("root", NOW), "hash-1").split(".")[1]
    assert signer.verified(f"{version}.{other}.{mac}", "hash-1", NOW) is None  # swapped payload
    for junk in ("", "v1", "v1..", "v2.a.b", "v1.!!!.x", f"v1.{payload}"):
        assert signer.verified(junk, "hash-1", NOW) is None, junk
        assert signer.unverified_operator(junk) is None or junk.count(".") == 2


def test_a_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner(b"k" * 32)
    first, second = new_session("ops", NOW), new_session("ops", NOW)
    token = signer.csrf_token(first.session_id)
    assert signer.csrf_matches(first.session_id, token)
    assert not signer.csrf_matches(second.session_id, token)
    assert not signer.csrf_matches(first.session_id, "")
    assert not SessionSigner(b"x" * 32).csrf_matches(first.session_id, token)
