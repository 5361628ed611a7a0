"""What a request handler needs, built once per worker process by ``create_app``.

One service per feature, each named after what it does; routes reach them through
``services(request)`` and call one method per request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.engine import Engine

from chronodelta.server._settings import Settings
from chronodelta.server._signing import TokenSigner
from chronodelta.server._tenant_now import TenantNowReader
from chronodelta.server.activities._service import ActivityDefinitionService
from chronodelta.server.auth._keyring import KeyRing
from chronodelta.server.auth._keys import load_or_create_secret
from chronodelta.server.auth._revocations import RevokedClients
from chronodelta.server.auth._service import AuthService
from chronodelta.server.auth._tokens import TokenService
from chronodelta.server.clock._store import TenantClocks
from chronodelta.server.delta._service import DeltaService
from chronodelta.server.delta._tracker import DeltaTracker
from chronodelta.server.records._backend import ConnectorBackend
from chronodelta.server.records._paging import PageTokenCodec
from chronodelta.server.records._read_ahead import PageReadAhead, read_ahead_capacity
from chronodelta.server.references._store import ReferenceStore
from chronodelta.server.webhooks._backend import WebhookBackend
from chronodelta.storage import create_engine


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    backend: ConnectorBackend
    references: ReferenceStore
    tokens: TokenService
    revoked: RevokedClients
    auth: AuthService
    pages: PageTokenCodec
    deltas: DeltaTracker
    delta: DeltaService
    activities: ActivityDefinitionService
    webhooks: WebhookBackend
    clocks: TenantClocks
    now: TenantNowReader  # every API request's one read of its tenant
    read_ahead: PageReadAhead

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Everything a worker serves with, over one engine for ``settings``."""
        engine = create_engine(settings.database_url, busy_timeout=settings.db_busy_timeout)
        signer = TokenSigner(load_or_create_secret(engine, "token-signing"))
        lifetime = dt.timedelta(seconds=settings.token_lifetime_seconds)
        tokens = TokenService(
            KeyRing(engine, lifetime, settings.key_refresh_seconds),
            settings.token_lifetime_seconds,
            public_url=settings.public_url,
        )
        references = ReferenceStore(engine)
        clocks = TenantClocks(engine, settings.today_override)
        pages = PageTokenCodec(signer)
        read_ahead = PageReadAhead(
            enabled=settings.page_read_ahead, capacity=read_ahead_capacity(settings.page_size)
        )
        tracker = DeltaTracker(
            engine,
            signer,
            ttl_seconds=settings.delta_ttl_seconds,
            overlap_seconds=settings.delta_overlap_seconds,
        )
        return cls(
            settings=settings,
            engine=engine,
            backend=ConnectorBackend(engine),
            references=references,
            tokens=tokens,
            revoked=RevokedClients(engine, settings.revocation_refresh_seconds),
            auth=AuthService(engine, tokens, settings, clocks),
            pages=pages,
            deltas=tracker,
            delta=DeltaService(tracker, references, pages, settings, read_ahead),
            activities=ActivityDefinitionService(engine),
            webhooks=WebhookBackend(
                engine,
                lifetime_seconds=settings.webhook_lifetime_seconds,
                allow_private=settings.webhook_allow_private,
            ),
            clocks=clocks,
            now=TenantNowReader(engine, settings.today_override),
            read_ahead=read_ahead,
        )


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
