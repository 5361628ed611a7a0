"""Storage: engines, tables, migrations, and the only way to open a transaction.

``storage.tables`` is the schema (a public contract of its own); the transactions
(``read_transaction``, ``write_transaction``, ``plain_write_transaction``) carry the
locking rules every caller must follow (``_transactions.py``).
"""

from ._engine import (
    BUSY_TIMEOUT_ENV,
    DATABASE_URL_ENV,
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    DatabaseUrlError,
    busy_timeout_from_env,
    create_engine,
    is_postgresql,
    resolve_database_url,
)
from ._migrate import current_revision, head_revision, upgrade
from ._seal import ReadBack
from ._transactions import (
    CHANGE_VERSION,
    DatabaseBusy,
    DatabaseConnectionLost,
    DatabaseUnavailable,
    RowWrite,
    VersionedWriteObserver,
    WriteTransaction,
    bump_tenant_counter,
    ensure_tenant_counters,
    is_busy_error,
    late_write_transaction,
    observe_versioned_writes,
    plain_write_transaction,
    read_back_row,
    read_statement,
    read_transaction,
    write_transaction,
)

__all__ = [
    "BUSY_TIMEOUT_ENV",
    "CHANGE_VERSION",
    "DATABASE_URL_ENV",
    "DEFAULT_BUSY_TIMEOUT_SECONDS",
    "DatabaseBusy",
    "DatabaseConnectionLost",
    "DatabaseUnavailable",
    "DatabaseUrlError",
    "ReadBack",
    "RowWrite",
    "VersionedWriteObserver",
    "WriteTransaction",
    "bump_tenant_counter",
    "busy_timeout_from_env",
    "create_engine",
    "current_revision",
    "ensure_tenant_counters",
    "head_revision",
    "is_busy_error",
    "is_postgresql",
    "late_write_transaction",
    "observe_versioned_writes",
    "plain_write_transaction",
    "read_back_row",
    "read_statement",
    "read_transaction",
    "resolve_database_url",
    "upgrade",
    "write_transaction",
]
