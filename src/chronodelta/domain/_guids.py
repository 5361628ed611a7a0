"""GUIDs: the ids of activity definitions and activity structure versions.

Seed 003 types ``activityLevels.activityDefinition.id`` as a string, and the vendor's
activity-definition pages call it a "Unique identifier (GUID)". This server writes
GUIDs in their canonical form (lower-case hex, 8-4-4-4-12) and accepts that form in
either case; a GUID in braces, without hyphens or in any other spelling is refused,
so that every id a client holds compares equal to the one the server sends.
"""

from __future__ import annotations

import re
import uuid

GUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_GUID = re.compile(GUID_PATTERN)


def parse_guid(text: str) -> str:
    """``text`` as a canonical GUID; ``ValueError`` if it is not one."""
    if not isinstance(text, str) or not _GUID.fullmatch(text):
        raise ValueError("must be a GUID written xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    return text.lower()


def is_guid(text: object) -> bool:
    return isinstance(text, str) and _GUID.fullmatch(text) is not None


def derived_guid(namespace: uuid.UUID, name: str) -> str:
    """A stable GUID for ``name`` (RFC 4122 version 5): the same name, the same GUID."""
    return str(uuid.uuid5(namespace, name))
