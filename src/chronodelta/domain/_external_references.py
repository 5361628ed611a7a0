"""External references: which exist, which endpoint accepts which, and the query syntax.

Contract, "External references", and seeds 001-003: ``externalReferences=(people,
@badge-number)(terminals,@external-code)`` adds the chosen references to each nested
object of that collection. Predefined references start with ``@`` and are fields of
the record; custom ones (no ``@``) are key-value pairs an integrator sets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Predefined references per collection, and the column each one reads.
PREDEFINED_REFERENCES: dict[str, dict[str, str]] = {
    "people": {"@badge-number": "badge_number", "@employee-number": "employee_number"},
    "terminals": {"@external-code": "external_code"},
    "activity-definitions": {
        "@data-entry-code": "data_entry_code",
        "@external-reference": "external_reference",
    },
    "absence-definitions": {"@absence-code": "absence_code"},
    "counter-definitions": {"@counter-code": "counter_code"},
    "shift-definitions": {"@shift-code": "shift_code"},
}

# The collections each endpoint accepts, exactly as its seed's table lists them.
SUPPORTED_REFERENCE_COLLECTIONS: dict[str, tuple[str, ...]] = {
    "clockings": ("people", "terminals", "activity-definitions", "absence-definitions"),
    "paid-presences": ("people", "shift-definitions"),
    "calculated-totals": ("people", "shift-definitions"),  # contract, "Fidelity"
    "activity-durations": (
        "people",
        "activity-definitions",
        "absence-definitions",
        "counter-definitions",
        "shift-definitions",
    ),
    # Contract, "Addressing by reference": "Reference collections accept
    # externalReferences for their own and related collections". Their own adds the
    # references to the records themselves (and names the record in a GET by
    # reference); related: the served collections their records point at.
    "people": ("people", "shift-definitions"),
    "terminals": ("terminals",),
    "activity-definitions": ("activity-definitions",),
    "absence-definitions": ("absence-definitions",),
    "counter-definitions": ("counter-definitions",),
    "shift-definitions": ("shift-definitions",),
}

# A custom reference's name: letters, digits, '.', '_', '-' (no '@', which marks the
# predefined ones, and nothing that the query syntax uses).
CUSTOM_REFERENCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CUSTOM_REFERENCE_VALUE_MAX = 200

_PAIR = re.compile(r"\(([^(),]*),([^(),]*)\)")


@dataclass(frozen=True, slots=True)
class ExternalReference:
    """One ``(collection,name)`` of an ``externalReferences`` request."""

    collection: str
    name: str

    @property
    def predefined(self) -> bool:
        return self.name.startswith("@")


class ExternalReferencesError(ValueError):
    """An ``externalReferences`` value that cannot be used; ``reasons`` say why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def external_references_pattern(endpoint: str) -> str:
    """A regular expression for exactly the ``externalReferences`` texts ``endpoint``
    takes by their form: its collections, each with its predefined names or a custom
    name (whether the tenant uses a custom name is the data's to say, not the form's).
    OpenAPI publishes it, so a client generated from /openapi.json sends only these."""
    custom = CUSTOM_REFERENCE_NAME.pattern
    pairs = []
    for collection in SUPPORTED_REFERENCE_COLLECTIONS.get(endpoint, ()):
        # The names hold only letters, '@' and '-': literal in any regex dialect.
        names = list(PREDEFINED_REFERENCES.get(collection, {}))
        pairs.append(rf"\({collection},(?:{'|'.join([*names, custom])})\)")
    return rf"^(?:{'|'.join(pairs)})+$"


def parse_external_references(text: str, endpoint: str) -> tuple[ExternalReference, ...]:
    """The pairs of ``text`` for ``endpoint``; each must be one the endpoint supports.

    Custom names are checked for form only here: whether the tenant uses a name is
    the server's to say.
    """
    pairs = _split(text)
    supported = SUPPORTED_REFERENCE_COLLECTIONS.get(endpoint, ())
    reasons: list[str] = []
    for ref in pairs:
        reasons += _problems(ref, endpoint, supported)
    if len(set(pairs)) != len(pairs):
        reasons.append("externalReferences: a (collection,reference) pair is listed twice")
    if reasons:
        raise ExternalReferencesError(reasons)
    return pairs


def format_external_references(pairs: tuple[ExternalReference, ...]) -> str:
    return "".join(f"({ref.collection},{ref.name})" for ref in pairs)


def _split(text: str) -> tuple[ExternalReference, ...]:
    pairs, position = [], 0
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None:
            raise ExternalReferencesError(
                [
                    f"externalReferences: expected '(collection,reference)' at position "
                    f"{position + 1}, e.g. (people,@badge-number)(terminals,@external-code)"
                ]
            )
        pairs.append(ExternalReference(match.group(1), match.group(2)))
        position = match.end()
    if not pairs:
        raise ExternalReferencesError(
            ["externalReferences: empty; give (collection,reference) pairs"]
        )
    return tuple(pairs)


def _problems(ref: ExternalReference, endpoint: str, supported: tuple[str, ...]) -> list[str]:
    if ref.collection not in PREDEFINED_REFERENCES:
        return [f"externalReferences: unknown collection {ref.collection!r}"]
    if ref.collection not in supported:
        allowed = ", ".join(supported) or "none"
        return [
            f"externalReferences: the {endpoint} endpoint does not support collection "
            f"{ref.collection!r} (supported: {allowed})"
        ]
    problem = reference_name_problem(ref.collection, ref.name)
    return [f"externalReferences: {problem}"] if problem else []


def reference_name_problem(collection: str, name: str) -> str | None:
    """Why ``name`` cannot be a reference of ``collection`` (None when it can be)."""
    if name.startswith("@"):
        known = PREDEFINED_REFERENCES[collection]
        if name not in known:
            return f"unknown reference {name!r} for {collection} (predefined: {', '.join(known)})"
        return None
    if not CUSTOM_REFERENCE_NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid reference name (predefined ones start with '@'; "
            "custom ones use letters, digits, '.', '_' and '-')"
        )
    return None
