"""Operational endpoints: health, Prometheus metrics, and the offline Swagger UI."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from chronodelta.server._metrics import render_metrics
from chronodelta.server._services import services
from chronodelta.storage import DatabaseUnavailable, read_transaction

router = APIRouter(include_in_schema=False)
# Swagger UI 5 (it renders OpenAPI 3.1), served from the package: no CDN, no network.
SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_ASSETS_PATH = "/swagger/assets"


@router.get("/healthz")
def healthz(request: Request) -> Response:
    try:
        with read_transaction(services(request).engine) as connection:
            connection.execute(sa.text("SELECT 1"))
    except (sa.exc.SQLAlchemyError, DatabaseUnavailable):
        return Response(b'{"status":"unavailable"}', 503, media_type="application/json")
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get("/metrics")
def metrics() -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)


def _swagger_page() -> tuple[bytes, str]:
    """The Swagger UI page, and the Content-Security-Policy it is served with.

    Issue 10, item 12: the page may load only what this server ships (its script,
    stylesheet and icon under /swagger/assets), call only this server (/openapi.json,
    "Try it out"), never be framed. Swagger UI needs two more things: the page's
    inline script that starts it (allowed by its SHA-256 hash, so no other inline
    script runs) and images as data: URIs (its icons, in its stylesheet).
    """
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="chronodelta: Protime Connector API",
        swagger_js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_ASSETS_PATH}/favicon.png",
    ).body
    html = bytes(page).decode("utf-8")
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return html.encode("utf-8"), policy


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
SWAGGER_PAGE, SWAGGER_POLICY = _swagger_page()


@router.get("/swagger")
def swagger() -> HTMLResponse:
    # X-Frame-Options and nosniff are added to every HTML response by RequestGuard.
    return HTMLResponse(SWAGGER_PAGE, headers={"Content-Security-Policy": SWAGGER_POLICY})
