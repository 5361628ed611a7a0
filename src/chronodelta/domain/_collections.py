"""The API's collections: their wire names and the scopes that guard them."""

from __future__ import annotations

from dataclasses import dataclass

from ._scopes import Scope

API_PREFIX = "/connector/protimeapi/api/v1"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    read_scope: Scope
    write_scope: Scope | None = None

    @property
    def path(self) -> str:
        return f"{API_PREFIX}/{self.name}"


CLOCKINGS = CollectionInfo("clockings", Scope.CLOCKINGS_READ, Scope.CLOCKINGS_WRITE)
PEOPLE = CollectionInfo("people", Scope.PEOPLE_READ)
TERMINALS = CollectionInfo("terminals", Scope.TERMINALS_READ)
ACTIVITY_DEFINITIONS = CollectionInfo(
    "activity-definitions", Scope.ACTIVITY_DEFINITIONS_READ, Scope.ACTIVITY_DEFINITIONS_WRITE
)
ABSENCE_DEFINITIONS = CollectionInfo("absence-definitions", Scope.ABSENCE_DEFINITIONS_READ)
COUNTER_DEFINITIONS = CollectionInfo("counter-definitions", Scope.COUNTER_DEFINITIONS_READ)
SHIFT_DEFINITIONS = CollectionInfo("shift-definitions", Scope.SHIFT_DEFINITIONS_READ)

# Calculated from clockings (docs/calculation.md); read only.
PAID_PRESENCES = CollectionInfo("paid-presences", Scope.CALCULATED_TOTALS_READ)
ACTIVITY_DURATIONS = CollectionInfo("activity-durations", Scope.ACTIVITY_DURATIONS_READ)
# One record per person and day; under the paid presences' scope (contract, "Fidelity").
CALCULATED_TOTALS = CollectionInfo("calculated-totals", Scope.CALCULATED_TOTALS_READ)
TOTAL_COLLECTIONS: tuple[CollectionInfo, ...] = (
    PAID_PRESENCES,
    ACTIVITY_DURATIONS,
    CALCULATED_TOTALS,
)

REFERENCE_COLLECTIONS: tuple[CollectionInfo, ...] = (
    PEOPLE,
    TERMINALS,
    ACTIVITY_DEFINITIONS,
    ABSENCE_DEFINITIONS,
    COUNTER_DEFINITIONS,
    SHIFT_DEFINITIONS,
)

# Served besides the collections' reads: clockings and custom external references
# written, and webhooks (issue 12).
_SERVED_WRITES = frozenset(
    {
        Scope.CLOCKINGS_WRITE,
        Scope.EXTERNAL_REFERENCES_WRITE,
        Scope.WEBHOOKS_READ,
        Scope.WEBHOOKS_WRITE,
    }
)
SERVED_SCOPES: tuple[Scope, ...] = tuple(
    scope
    for scope in Scope
    if scope in _SERVED_WRITES
    or any(
        scope == info.read_scope for info in (CLOCKINGS, *TOTAL_COLLECTIONS, *REFERENCE_COLLECTIONS)
    )
)
"""The scopes that guard something this server serves: what a client registered
without a scope list gets (``clients create``, the demo client). Every other known
scope is granted when asked for, and guards nothing here yet
(tests/server/test_refusal_matrix.py checks this against the routes)."""
