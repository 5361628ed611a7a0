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
from chronodelta.storage import create_engine

from ._auth import TokenService
from ._backend import ConnectorBackend
from ._deltas import DeltaTracker
from ._errors import install_error_handlers
from ._keys import load_or_create_secret, load_or_create_signing_key
from ._middleware import RequestGuard
from ._paging import PageTokenCodec
from ._retention import RetentionThread
from ._services import Services
from ._settings import Settings
from ._signing import TokenSigner
from .routes import (
    _clockings,
    _delta,
    _external_references,
    _operations,
    _references,
    _tokens,
    _totals,
)

DESCRIPTION = """\
A faithful implementation of the Protime Connector API: OAuth2 client-credentials
tokens (`POST /tenants/{tenant}/connect/token`), clockings (read and write) and the
reference collections, with the vendor's filters, paging and error format.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings.database_url)
    signer = TokenSigner(load_or_create_secret(engine, "token-signing"))
    found = Services(
        settings=settings,
        engine=engine,
        backend=ConnectorBackend(engine),
        tokens=TokenService(load_or_create_signing_key(engine), settings.token_lifetime_seconds),
        pages=PageTokenCodec(signer),
        deltas=DeltaTracker(
            engine,
            signer,
            ttl_seconds=settings.delta_ttl_seconds,
            overlap_seconds=settings.delta_overlap_seconds,
        ),
    )
    retention = RetentionThread(
        engine,
        ttl=found.deltas.ttl,
        overlap=found.deltas.overlap,
        interval=settings.retention_interval_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        retention.start()
        # Everything loaded so far lives as long as the worker. Freezing it keeps the
        # cyclic GC, which the dicts of every page set off, from walking it again and
        # again (BENCHMARKS.md: list walks about a fifth faster).
        gc.freeze()
        yield
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
        _tokens,
        _clockings,
        _totals,
        _references,
        _external_references,
        _delta,
        _operations,
    ):
        app.include_router(module.router)
    app.mount(
        _operations.SWAGGER_ASSETS_PATH,
        StaticFiles(directory=_operations.SWAGGER_ASSETS),
        name="swagger-assets",
    )
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    logging.getLogger("chronodelta").setLevel(logging.INFO)
    return app


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 on every operation; this API answers 400 instead."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
