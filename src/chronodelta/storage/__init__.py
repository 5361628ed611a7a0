"""Storage: engines, schema, migrations and the transactions that order writes."""

from ._engine import (
    DATABASE_URL_ENV,
    SQLITE_IMMEDIATE_OPTIONS,
    DatabaseUrlError,
    create_engine,
    is_postgresql,
    resolve_database_url,
)
from ._migrate import current_revision, head_revision, upgrade
from ._transactions import (
    WriteTransaction,
    ensure_tenant_counters,
    read_transaction,
    write_transaction,
)

__all__ = [
    "DATABASE_URL_ENV",
    "SQLITE_IMMEDIATE_OPTIONS",
    "DatabaseUrlError",
    "WriteTransaction",
    "create_engine",
    "current_revision",
    "ensure_tenant_counters",
    "head_revision",
    "is_postgresql",
    "read_transaction",
    "resolve_database_url",
    "upgrade",
    "write_transaction",
]
