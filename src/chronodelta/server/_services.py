"""What a request handler needs, built once per worker process by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.engine import Engine

from ._auth import TokenService
from ._backend import ConnectorBackend
from ._deltas import DeltaTracker
from ._paging import PageTokenCodec
from ._settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    backend: ConnectorBackend
    tokens: TokenService
    pages: PageTokenCodec
    deltas: DeltaTracker


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
