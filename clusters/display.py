"""How the console writes a moment, an age and a name that exists in several regions.

One format everywhere, in pages and in messages: ``2026-12-01 18:04:05 UTC`` (the
configured ``TIME_ZONE``, named), ages as ``< 1 min`` / ``5 min`` / ``3 h`` / ``2 d``.
Templates use the filters in ``clusters/templatetags/display.py``, which call these;
``tests/clusters/test_display.py`` fails any template or module that formats dates itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

REGION_SEPARATOR = " · "


def timestamp_local(at: datetime) -> datetime:
    """``at`` in the console's time zone (naive values are taken as UTC)."""
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    return timezone.localtime(at)


def timestamp_text(at: datetime) -> str:
    """``2026-12-01 18:04:05 UTC``: the one way a moment is written."""
    local = timestamp_local(at)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''}".rstrip()


def age_text(seconds: float | None) -> str:
    """A duration as the dashboard has always shown it: ``< 1 min``, ``5 min``, ``3 h``
    (below two days), ``2 d``; ``never`` when there is none."""
    if seconds is None:
        return "never"
    seconds = abs(seconds)
    if seconds < 60:
        return "< 1 min"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    if seconds < 172800:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


def relative_text(at: datetime, *, now: datetime | None = None) -> str:
    """``5 min ago`` for the past, ``in 3 h`` for the future."""
    seconds = ((now or timezone.now()) - timestamp_local(at)).total_seconds()
    return f"{age_text(seconds)} ago" if seconds >= 0 else f"in {age_text(seconds)}"


def name_with_region(name: str, region: str) -> str:
    """``web · eu-west-1``: a name that may exist in several regions, told apart."""
    return f"{name}{REGION_SEPARATOR}{region}" if region else name


def usd_cents(amount: Decimal | int | float) -> Decimal:
    """Money as shown: US dollars rounded half-up to the cent. Amounts are kept
    unrounded (``Decimal``) and rounded only where shown (pages, /metrics)."""
    return Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def usd_text(amount: Decimal | int | float) -> str:
    """``1,234.57``."""
    return f"{usd_cents(amount):,}"


def spreadsheet_safe(value: str) -> str:
    """A CSV cell starting with = + - @ is a formula to spreadsheets (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
