"""``chronodelta sync``: a crash-proof mirror of the API's delta collections.

Each API response is applied in one database transaction together with the link that
follows it (``SyncState``), so a kill at any instant loses nothing and applies nothing
twice. See docs/sync.md.

Every error the sync raises is a ``SyncError``, retriable (``RetriableSyncError``) or
fatal (``FatalSyncError``) by type; the SDK's errors (``ChronodeltaError``) come
through as they are. The tree is in ``_exceptions.py``.
"""

from ._apply import ChangeCounts, ChangePlan, plan_changes
from ._config import SyncConnection, read_config_file, resolve_connection
from ._exceptions import (
    ConfigError,
    FatalSyncError,
    InvalidRequest,
    InvalidTransition,
    MirrorError,
    MirrorRefused,
    MirrorUnavailable,
    RetriableSyncError,
    StateConflict,
    SyncError,
    TooManyRestarts,
)
from ._mirror import DEFAULT_TARGET, CollectionStatus, Mirror
from ._progress import LogReporter, Reporter, RichReporter
from ._runner import (
    DEFAULT_INTERVAL_SECONDS,
    MAX_INTERVAL_SECONDS,
    SyncRequest,
    SyncResult,
    run_sync,
    sync_once,
)
from ._state import SyncState, after_changes, after_page, begin_generation, new_state
from ._tables import COLLECTIONS
from ._webhooks import WebhookOptions

__all__ = [
    "COLLECTIONS",
    "DEFAULT_INTERVAL_SECONDS",
    "DEFAULT_TARGET",
    "MAX_INTERVAL_SECONDS",
    "ChangeCounts",
    "ChangePlan",
    "CollectionStatus",
    "ConfigError",
    "FatalSyncError",
    "InvalidRequest",
    "InvalidTransition",
    "LogReporter",
    "Mirror",
    "MirrorError",
    "MirrorRefused",
    "MirrorUnavailable",
    "Reporter",
    "RetriableSyncError",
    "RichReporter",
    "StateConflict",
    "SyncConnection",
    "SyncError",
    "SyncRequest",
    "SyncResult",
    "SyncState",
    "TooManyRestarts",
    "WebhookOptions",
    "after_changes",
    "after_page",
    "begin_generation",
    "new_state",
    "plan_changes",
    "read_config_file",
    "resolve_connection",
    "run_sync",
    "sync_once",
]
