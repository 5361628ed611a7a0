"""OAuth2 scopes (contract, "Authentication and scopes", and "Fidelity", "Scopes").

Scopes are ``connector-protimeapi-<collection>.<read|write>``: read covers GET and
delta, write covers POST/PUT/DELETE. Paid presences sit under the seed's
``calculated-totals.read``.

Every scope the vendor documents is *known*: a client registered with one gets tokens
for it even where this server does not serve that collection yet, so that an
integration asks for the same scopes here as there. ``SERVED_SCOPES``
(``_collections.py``) are those that guard something this server serves; an unknown
scope is refused. ``terminals.read`` is this server's own (the vendor documents no
terminals scope, but serves the terminals that clockings point at).
"""

from __future__ import annotations

from enum import StrEnum

SCOPE_PREFIX = "connector-protimeapi-"


class Scope(StrEnum):
    CLOCKINGS_READ = "connector-protimeapi-clockings.read"
    CLOCKINGS_WRITE = "connector-protimeapi-clockings.write"
    CALCULATED_TOTALS_READ = "connector-protimeapi-calculated-totals.read"
    ACTIVITY_DURATIONS_READ = "connector-protimeapi-activity-durations.read"
    PEOPLE_READ = "connector-protimeapi-people.read"
    TERMINALS_READ = "connector-protimeapi-terminals.read"
    ACTIVITY_DEFINITIONS_READ = "connector-protimeapi-activity-definitions.read"
    ACTIVITY_DEFINITIONS_WRITE = "connector-protimeapi-activity-definitions.write"
    ABSENCE_DEFINITIONS_READ = "connector-protimeapi-absence-definitions.read"
    COUNTER_DEFINITIONS_READ = "connector-protimeapi-counter-definitions.read"
    SHIFT_DEFINITIONS_READ = "connector-protimeapi-shift-definitions.read"
    EXTERNAL_REFERENCES_WRITE = "connector-protimeapi-external-references.write"
    WEBHOOKS_READ = "connector-protimeapi-webhooks.read"
    WEBHOOKS_WRITE = "connector-protimeapi-webhooks.write"
    # Known, for collections this server does not serve yet (contract, "Fidelity").
    ACCESS_CLOCKINGS_READ = "connector-protimeapi-access-clockings.read"
    ABSENCES_READ = "connector-protimeapi-absences.read"
    ABSENCE_GROUPS_READ = "connector-protimeapi-absence-groups.read"
    BREAK_DEFINITIONS_READ = "connector-protimeapi-break-definitions.read"
    CONTRACTS_READ = "connector-protimeapi-contracts.read"
    COUNTERS_READ = "connector-protimeapi-counters.read"
    COUNTER_GROUPS_READ = "connector-protimeapi-counter-groups.read"
    WORK_INTERRUPTIONS_READ = "connector-protimeapi-work-interruptions.read"


KNOWN_SCOPES: tuple[Scope, ...] = tuple(Scope)
"""Every scope a client may be registered with and get tokens for, in a stable order."""


class UnknownScopeError(ValueError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("unknown scope(s): " + ", ".join(names))
        self.names = names


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Space-separated scope names, as OAuth2 sends them, in a stable order."""
    names = text.split()
    unknown = [n for n in names if n not in Scope._value2member_map_]
    if unknown:
        raise UnknownScopeError(unknown)
    wanted = set(names)
    return tuple(s for s in KNOWN_SCOPES if s.value in wanted)


def format_scopes(scopes: tuple[Scope, ...] | list[Scope] | frozenset[Scope]) -> str:
    return " ".join(s.value for s in KNOWN_SCOPES if s in scopes)
