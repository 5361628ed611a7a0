"""The public surface of each part is exactly its ``__all__`` (httpx's guard)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "chronodelta.domain": {
        "ACTIVITY_DURATIONS",
        "PAID_PRESENCES",
        "TOTAL_COLLECTIONS",
        "ActivityDurationTotal",
        "CounterLinks",
        "DayClocking",
        "DurationStatus",
        "PaidPresenceTotal",
        "ShiftWindow",
        "activity_durations",
        "paid_presence",
        "CUSTOM_REFERENCE_NAME",
        "CUSTOM_REFERENCE_VALUE_MAX",
        "PREDEFINED_REFERENCES",
        "SUPPORTED_REFERENCE_COLLECTIONS",
        "ExternalReference",
        "ExternalReferencesError",
        "format_external_references",
        "parse_external_references",
        "ABSENCE_DEFINITIONS",
        "ACTIVITY_DEFINITIONS",
        "ACTIVITY_DURATIONS_FILTER",
        "ALL_SCOPES",
        "API_PREFIX",
        "CLOCKINGS",
        "CLOCKINGS_FILTER",
        "COUNTER_DEFINITIONS",
        "MAX_TIME_OF_DAY",
        "MIN_TIME_OF_DAY",
        "PAID_PRESENCES_FILTER",
        "PEOPLE",
        "REFERENCE_COLLECTIONS",
        "SHIFT_DEFINITIONS",
        "TERMINALS",
        "AbsenceDefinition",
        "ActivityDefinition",
        "ActivityLevel",
        "ClockingDraft",
        "ClockingKind",
        "ClockingStatus",
        "CollectionFilterSpec",
        "CollectionInfo",
        "CounterDefinition",
        "FilterCriteria",
        "FilterError",
        "FilterSyntaxError",
        "Person",
        "ReferenceData",
        "Scope",
        "ShiftDefinition",
        "Terminal",
        "UnknownScopeError",
        "compile_filter",
        "format_change_version",
        "format_filter",
        "format_scopes",
        "parse_change_version",
        "parse_filter",
        "parse_scopes",
    },
    "chronodelta.storage": {
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
    },
    "chronodelta.server": {
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
        "seed_tenant",
    },
    "chronodelta.testing": {
        "PostgresUnavailable",
        "ServerProcess",
        "ThrowawayPostgres",
        "free_port",
    },
    "chronodelta.cli": {"app", "main"},
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_surface_is_exactly_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None
    public_attributes = {n for n in vars(module) if not n.startswith("_")}
    submodules = {
        n
        for n in public_attributes
        if hasattr(getattr(module, n), "__path__") or type(getattr(module, n)).__name__ == "module"
    }
    assert public_attributes - submodules - {"annotations"} <= set(module.__all__) | {
        "typer",
        "chronodelta",
    }
