"""Operational endpoints: health, Prometheus metrics, and the offline Swagger UI."""

from __future__ import annotations

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


@router.get("/swagger")
def swagger() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="chronodelta: Protime Connector API",
        swagger_js_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_ASSETS_PATH}/favicon.png",
    )
