"""The application factory: one call builds everything a worker process serves."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.staticfiles import StaticFiles

import chronodelta
from chronodelta.server import _operations
from chronodelta.server._errors import install_error_handlers
from chronodelta.server._middleware import RequestGuard
from chronodelta.server._services import Services
from chronodelta.server._settings import Settings
from chronodelta.server.activities import _routes as activity_routes
from chronodelta.server.auth import _routes as auth_routes
from chronodelta.server.clock import _routes as clock_routes
from chronodelta.server.console._install import install_console
from chronodelta.server.delta import _admin_routes as delta_admin_routes
from chronodelta.server.delta import _routes as delta_routes
from chronodelta.server.delta._retention import RetentionThread
from chronodelta.server.faults import _routes as fault_routes
from chronodelta.server.operators import _routes as operator_routes
from chronodelta.server.records import _routes as records_routes
from chronodelta.server.references import _external_routes as external_reference_routes
from chronodelta.server.references import _routes as reference_routes
from chronodelta.server.request_log import _routes as request_log_routes
from chronodelta.server.request_log._sandbox import RequestSandbox
from chronodelta.server.snapshots import _routes as snapshot_routes
from chronodelta.server.totals import _routes as totals_routes
from chronodelta.server.webhooks import _routes as webhook_routes
from chronodelta.server.webhooks._delivery import Deliverer
from chronodelta.server.webhooks._retention import WebhookRetention

DESCRIPTION = """\
A faithful implementation of the Protime Connector API, with the vendor's filters,
paging, external references and error format:

* **Authentication**: OAuth2 client-credentials tokens
  (`POST /tenants/{tenant}/connect/token`), OIDC discovery and JWKS.
* **Clockings**: list, get, create, replace and (soft) delete, with ETags.
* **Calculated totals**: paid presences, activity durations and the calculated-totals
  collection, recalculated from the clockings inside every clocking write.
* **Reference collections**: people, terminals, activity, absence, counter and shift
  definitions, and their custom external references.
* **Delta synchronization**: `&delta` on any list starts a delta (always paged; the
  last page carries a `deltaLink`), `GET /delta/{collection}?deltaToken=...` returns
  every change since, in one response; deltas expire 72 hours after their last use.
* **Webhooks**: `POST /webhooks` subscribes a URL to a collection's changes, pushed as
  delta items signed per Standard Webhooks, retried with backoff (docs/webhooks.md).

A busy database answers `503` with `Retry-After`; nothing a client sends gives a `500`.
"""


UNAVAILABLE = {
    "description": "The database was busy past its timeout, or away; retry after Retry-After",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    found = Services.build(settings or Settings())
    settings = found.settings
    retention = RetentionThread(
        found.engine,
        ttl=found.deltas.ttl,
        overlap=found.deltas.overlap,
        interval=settings.retention_interval_seconds,
        webhooks=WebhookRetention.from_settings(settings),
    )
    deliverer = Deliverer(found.engine, settings) if settings.webhook_delivery else None
    sandbox = RequestSandbox.build(found.engine, settings)  # issue 13: faults, request log

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        retention.start()
        sandbox.start()
        if deliverer is not None:
            deliverer.start()
        # Everything loaded so far lives as long as the worker. Freezing it keeps the
        # cyclic GC, which the dicts of every page set off, from walking it again and
        # again (BENCHMARKS.md: list walks about a fifth faster).
        gc.freeze()
        yield
        if deliverer is not None:
            deliverer.stop()
        found.read_ahead.close()  # pages read ahead for walks no one will finish
        sandbox.stop()  # after the last request: writes the log rows still buffered
        retention.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="chronodelta: Protime Connector API",
        version=chronodelta.__version__,
        description=DESCRIPTION,
        docs_url=None,  # FastAPI's default page loads Swagger from a CDN; ours is local
        redoc_url=None,
    )
    app.state.services = found
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    for module in (
        auth_routes,
        records_routes,
        totals_routes,
        reference_routes,
        activity_routes,
        external_reference_routes,
        delta_routes,
        webhook_routes,
        _operations,
        # Issue 13: the sandbox controls, operator-only. Feature admin routers go here,
        # before the fallback (which answers every other /admin path).
        snapshot_routes,
        clock_routes,
        delta_admin_routes,
        fault_routes,
        request_log_routes,
        operator_routes,
    ):
        app.include_router(module.router)
    app.include_router(operator_routes.fallback_router)
    if settings.console:
        install_console(app)  # issue 13, item 5: the operator console at /console
    app.mount(
        _operations.SWAGGER_ASSETS_PATH,
        StaticFiles(directory=_operations.SWAGGER_ASSETS),
        name="swagger-assets",
    )
    sandbox.install(app)  # inside RequestGuard: what it refuses never reaches a route
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    logging.getLogger("chronodelta").setLevel(logging.INFO)
    return app


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 on every operation; this API answers 400 instead. Every
    operation that reaches the database may answer 503 (the database busy or away)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.setdefault("503", UNAVAILABLE)
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
