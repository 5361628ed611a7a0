"""The server: the Protime Connector API over HTTP, backed by ``storage``."""

from ._admin import (
    AdminError,
    NewClient,
    SeedResult,
    TenantInfo,
    bootstrap_demo,
    create_client,
    create_tenant,
    list_tenants,
    recalculate_tenant,
    seed_tenant,
)
from ._app import create_app
from ._backend import ConnectorBackend
from ._errors import ApiError
from ._settings import Settings

__all__ = [
    "AdminError",
    "ApiError",
    "ConnectorBackend",
    "NewClient",
    "SeedResult",
    "Settings",
    "TenantInfo",
    "bootstrap_demo",
    "create_app",
    "create_client",
    "create_tenant",
    "list_tenants",
    "recalculate_tenant",
    "seed_tenant",
]
