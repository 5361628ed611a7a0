"""The wire form of a change version (contract, "Delta").

Stored as an integer; shown as 20 upper-case hex digits so that plain string
comparison orders versions exactly as the integers do.
"""

from __future__ import annotations

import re

CHANGE_VERSION_DIGITS = 20
_PATTERN = re.compile(r"[0-9A-F]{20}")


def format_change_version(value: int) -> str:
    return f"{value:020X}"


def parse_change_version(text: str) -> int:
    if not _PATTERN.fullmatch(text):
        raise ValueError(f"not a change version: {text!r} (expected 20 upper-case hex digits)")
    return int(text, 16)
