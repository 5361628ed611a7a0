"""The server: the Protime Connector API over HTTP, backed by ``storage``.

Public here: the app factory and its settings, the backend (the API's operations
without HTTP, for benchmarks), and the operator tasks behind the CLI.
"""

from ._app import create_app
from ._errors import ApiError
from ._settings import Settings
from .admin._clients import ClientInfo, list_clients, revoke_client, rotate_client_secret
from .admin._organisation import place_in_org_group, set_circle_member
from .admin._tenants import (
    AdminError,
    NewClient,
    SeedResult,
    TenantInfo,
    bootstrap_demo,
    create_client,
    create_tenant,
    insert_clockings,
    insert_organisation,
    insert_reference_data,
    list_tenants,
    recalculate_tenant,
    seed_tenant,
    tenant_id,
)
from .auth._keyring import KeyInfo, list_signing_keys, rotate_signing_key
from .clock._model import TenantClock, parse_duration, parse_moment
from .clock._store import ClockInfo, advance_clock, reset_clock, set_clock, show_clocks
from .delta._admin import DeltaInfo, expire_delta, list_deltas
from .delta._retention import RetentionReport, run_retention
from .faults._rules import (
    FaultRule,
    FaultRuleError,
    FaultSpec,
    add_fault_rule,
    clear_fault_rules,
    list_fault_rules,
)
from .operators._store import NewOperatorPassword, list_operators, set_operator_password
from .records._backend import ConnectorBackend
from .request_log._entry import LoggedRequest
from .request_log._store import RequestLogQuery, TrimReport, query_request_log, trim_request_log
from .snapshots._service import (
    SnapshotExists,
    SnapshotNotFound,
    TenantNotFound,
    delete_snapshot,
    list_snapshots,
    reset_tenant,
    restore_tenant,
    snapshot_tenant,
)
from .snapshots._store import RestoreResult, SeedParameters, SnapshotInfo

__all__ = [
    "AdminError",
    "ApiError",
    "ClientInfo",
    "ClockInfo",
    "ConnectorBackend",
    "DeltaInfo",
    "FaultRule",
    "FaultRuleError",
    "FaultSpec",
    "KeyInfo",
    "LoggedRequest",
    "NewClient",
    "NewOperatorPassword",
    "RequestLogQuery",
    "RestoreResult",
    "RetentionReport",
    "SeedParameters",
    "SeedResult",
    "Settings",
    "SnapshotExists",
    "SnapshotInfo",
    "SnapshotNotFound",
    "TenantClock",
    "TenantInfo",
    "TenantNotFound",
    "TrimReport",
    "add_fault_rule",
    "advance_clock",
    "bootstrap_demo",
    "clear_fault_rules",
    "create_app",
    "create_client",
    "create_tenant",
    "delete_snapshot",
    "expire_delta",
    "insert_clockings",
    "insert_organisation",
    "insert_reference_data",
    "list_clients",
    "list_deltas",
    "list_fault_rules",
    "list_operators",
    "list_signing_keys",
    "list_snapshots",
    "list_tenants",
    "parse_duration",
    "parse_moment",
    "place_in_org_group",
    "query_request_log",
    "recalculate_tenant",
    "reset_clock",
    "reset_tenant",
    "restore_tenant",
    "revoke_client",
    "rotate_client_secret",
    "rotate_signing_key",
    "run_retention",
    "seed_tenant",
    "set_circle_member",
    "set_clock",
    "set_operator_password",
    "show_clocks",
    "snapshot_tenant",
    "tenant_id",
    "trim_request_log",
]
