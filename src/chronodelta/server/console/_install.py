"""``install_console``: the console's routers, state and error pages in an app.

``create_app`` calls it unless the console is turned off (``CHRONODELTA_CONSOLE=false``,
``serve --no-console``): then no /console route exists and every /console path is the
app's plain 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from chronodelta.server.auth._keys import load_or_create_secret
from chronodelta.server.console import _routes, _sandbox_routes
from chronodelta.server.console._access import (
    CONSOLE_PREFIX,
    SESSION,
    ConsoleState,
    CsrfRefused,
    LoginBusy,
    LoginRequired,
    OperatorSession,
)
from chronodelta.server.console._pages import message_page
from chronodelta.server.console._session import SessionSigner
from chronodelta.server.console._web import PageNotFound, redirect

# Every other /console path: the session check first (so an API token gets its 401 and
# a browser the login page), then a 404 page.
fallback_router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
_EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@fallback_router.api_route("/{rest:path}", methods=_EVERY_METHOD)
def unknown_console_path(rest: str, signed_in: OperatorSession = SESSION) -> Response:
    return message_page(
        "Not found", [f"No console page at /console/{rest}"], status=404, signed_in=signed_in
    )


def install_console(app: FastAPI) -> None:
    found = app.state.services
    secret = load_or_create_secret(found.engine, "console-session")
    app.state.console = ConsoleState(found.engine, found.settings, SessionSigner(secret))
    for router in (_routes.router, _sandbox_routes.router, fallback_router):
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(LoginBusy, _login_busy)
    app.add_exception_handler(PageNotFound, _not_found)


def _to_login(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return redirect(f"{CONSOLE_PREFIX}/login?{urlencode({'next': exc.next_path})}")


def _csrf_refused(_request: Request, _exc: Exception) -> Response:
    return message_page(
        "Form refused (CSRF check failed)",
        [
            "This form did not carry the security token of your console session: it is"
            " stale (you logged in again since) or it was not sent by this console.",
            "Nothing was changed. Go back, reload the page and send the form again.",
        ],
        status=403,
    )


def _login_busy(_request: Request, _exc: Exception) -> Response:
    return message_page(
        "Too many logins at once",
        ["Too many logins are being checked at this moment; try again in a second."],
        status=429,
        headers={"Retry-After": "1"},
    )


def _not_found(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageNotFound)
    return message_page("Not found", [exc.reason], status=404)
