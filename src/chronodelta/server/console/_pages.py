"""Rendering: the Jinja2 environment (autoescaped), page responses and their headers.

Every value a template shows is escaped (``autoescape=True``), so data typed by an
integration (a description, a destination URL) cannot become markup. Pages are never
cached (``no-store``: the page that shows a new client secret must not be kept), and
the middleware adds the HTML Content-Security-Policy (``default-src 'self'``), which
is why the console has no inline script or style: ``static/console.js`` and
``static/console.css`` are served from the package.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from chronodelta.server.console._access import CONSOLE_PREFIX, OperatorSession

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("chronodelta.server.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
STATIC = resources.files("chronodelta.server.console") / "static"
STATIC_TYPES = {
    "console.css": "text/css",
    "console.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


def _minutes(value: int | None) -> str:
    """Minutes as H:MM (a duration) or HH:MM (a time of day); negative with a sign."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    hours, minutes = divmod(abs(int(value)), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _when(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_ENVIRONMENT.filters["minutes"] = _minutes
_ENVIRONMENT.filters["when"] = _when
_ENVIRONMENT.globals["prefix"] = CONSOLE_PREFIX


def render(
    template: str,
    *,
    signed_in: OperatorSession | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = _ENVIRONMENT.get_template(template).render(
        operator=signed_in.operator if signed_in else None,
        csrf=signed_in.csrf if signed_in else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def message_page(
    title: str,
    reasons: list[str],
    *,
    status: int,
    signed_in: OperatorSession | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        "message.html",
        signed_in=signed_in,
        status=status,
        headers=headers,
        title=title,
        reasons=reasons,
    )
