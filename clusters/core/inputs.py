"""Reading ids from untrusted text (query strings, form fields, AWS tags).

``str.isdigit()`` is true for "¹" and "٣" (which ``int()`` refuses or reads as
another number) and for 40-digit numbers (which overflow a database integer): both
were 500s found by the hostile-input tests. Use these instead."""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}")
MAX_DB_ID = 2**63 - 1


def db_id(value: str | None) -> int | None:
    """A positive integer that fits a database id column, or None."""
    if value is None or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_DB_ID else None


def small_int(value: str | None, *, default: int, minimum: int, maximum: int) -> int:
    """An ASCII integer clamped to [minimum, maximum]; ``default`` when absent or not a number."""
    if value is None or not re.fullmatch(r"-?[0-9]{1,18}", value.strip()):
        return default
    return max(minimum, min(maximum, int(value)))
