"""Who may open a console page: an operator's session cookie, never an Authorization header.

Issue 13, "Must hold": "an API access token gets 401 on every /admin and /console
path". So any request to a console path that carries an ``Authorization`` header
(a bearer token, HTTP Basic, anything) gets 401 in the API's error format before
anything else, the login page and the static assets included: the console's own
credential is its session cookie. A browser without a valid session is sent to the
login page (``LoginRequired``); a form posted without this session's CSRF token gets
403 (``CsrfRefused``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Form, Request
from sqlalchemy.engine import Engine

from chronodelta.server._clock import utc_now
from chronodelta.server._errors import ApiError
from chronodelta.server._settings import Settings
from chronodelta.server.console._session import SESSION_COOKIE, Session, SessionSigner
from chronodelta.server.operators._store import operator_password_matches
from chronodelta.storage import read_transaction, tables

CONSOLE_PREFIX = "/console"
# argon2id takes 19 MiB and tens of milliseconds: at most this many logins at once
# per worker (as the /admin API's check, operators._access).
_LOGINS = threading.BoundedSemaphore(2)
_LOGIN_WAIT_SECONDS = 1.0


class ConsoleUnauthorized(ApiError):
    status_code = 401
    code = "Unauthorized"
    default_message = (
        "The console takes an operator's session (log in at /console/login);"
        " an Authorization header is no console credential"
    )

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Session realm="chronodelta console"'})


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page, then back to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form came without this session's CSRF token (or with another one)."""


class LoginBusy(Exception):
    """Too many logins being verified at once in this worker."""


@dataclass(frozen=True)
class ConsoleState:
    """What every console request needs, built once per worker by ``install_console``."""

    engine: Engine
    settings: Settings
    signer: SessionSigner


@dataclass(frozen=True)
class OperatorSession:
    session: Session
    csrf: str  # the token every form of this session carries

    @property
    def operator(self) -> str:
        return self.session.operator


def console_state(request: Request) -> ConsoleState:
    found: ConsoleState = request.app.state.console
    return found


def no_authorization_header(request: Request) -> None:
    if "authorization" in request.headers:
        raise ConsoleUnauthorized()


def operator_session(request: Request) -> OperatorSession:
    """The request's valid session; ``LoginRequired`` when it has none."""
    no_authorization_header(request)
    state = console_state(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    operator = state.signer.unverified_operator(cookie)
    password_hash = None if operator is None else operator_password_hash(state.engine, operator)
    session = (
        None if password_hash is None else state.signer.verified(cookie, password_hash, utc_now())
    )
    if session is None:
        # Back to the page after the login; a form's target is no page to go back to.
        query = f"?{request.url.query}" if request.url.query else ""
        back = request.url.path + query if request.method == "GET" else CONSOLE_PREFIX
        raise LoginRequired(back)
    return OperatorSession(session, state.signer.csrf_token(session.session_id))


SESSION = Depends(operator_session)


def checked_form_session(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    signed_in: OperatorSession = SESSION,
) -> OperatorSession:
    """The session of a form POST, whose ``csrf`` field must be this session's token."""
    if not console_state(request).signer.csrf_matches(signed_in.session.session_id, csrf):
        raise CsrfRefused()
    return signed_in


FORM_SESSION = Depends(checked_form_session)


def operator_password_hash(engine: Engine, name: str) -> str | None:
    """The operator's current password hash: what its sessions are signed with."""
    operators = tables.operators
    with read_transaction(engine) as connection:
        found = connection.scalar(
            sa.select(operators.c.password_hash).where(operators.c.name == name)
        )
    return None if found is None else str(found)


def verify_login(engine: Engine, name: str, password: str) -> str | None:
    """The password hash to sign a session with, if ``name``/``password`` is an operator's."""
    if not name or not password:
        return None
    if not _LOGINS.acquire(timeout=_LOGIN_WAIT_SECONDS):
        raise LoginBusy()
    try:
        matches = operator_password_matches(engine, name, password)
    finally:
        _LOGINS.release()
    return operator_password_hash(engine, name) if matches else None


def secure_cookies(request: Request) -> bool:
    """Whether cookies get ``Secure``: served over https, directly or per the public URL."""
    public = console_state(request).settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")
