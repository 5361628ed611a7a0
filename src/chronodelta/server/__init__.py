"""The server: the Protime Connector API over HTTP, backed by ``storage``."""

from chronodelta.server._app import create_app
from chronodelta.server._errors import ApiError
from chronodelta.server._settings import Settings
from chronodelta.server.admin._tenants import (
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
from chronodelta.server.records._backend import ConnectorBackend

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
