"""``{% load display %}``: the one way templates show a moment, an age, and a name
with its region (the helpers live in ``clusters.display``).

- ``{{ at|stamp }}``      -> ``<time datetime="ISO">2026-12-01 18:04:05 UTC</time>``
- ``{{ at|stamp_age }}``  -> the same, followed by ``(5 min ago)`` / ``(in 3 h)``
- ``{{ seconds|age }}``   -> ``5 min`` (a duration, e.g. how old the data is)
- ``{{ amount|usd }}``     -> ``1,234.57`` (a Decimal rounded to the cent)
- ``{{ cluster|with_region }}``, ``{{ service|with_region }}`` and
  ``{% name_region name region %}`` -> ``web · eu-west-1`` (the region muted)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from clusters.display import (
    REGION_SEPARATOR,
    age_text,
    relative_text,
    timestamp_local,
    timestamp_text,
    usd_text,
)

register = template.Library()

_NONE = format_html('<span class="muted">{}</span>', "—")


def _time_element(at: datetime) -> SafeString:
    return format_html(
        '<time class="stamp" datetime="{}">{}</time>',
        timestamp_local(at).isoformat(),
        timestamp_text(at),
    )


@register.filter
def stamp(value: datetime | None) -> SafeString:
    """A moment, absolute, with its time zone; ``—`` when there is none."""
    if not isinstance(value, datetime):
        return _NONE
    return _time_element(value)


@register.filter
def stamp_text(value: datetime | None) -> str:
    """The same moment as plain text, for attributes (``title="..."``)."""
    return timestamp_text(value) if isinstance(value, datetime) else "—"


@register.filter
def stamp_age(value: datetime | None) -> SafeString:
    """A moment and, after it, how long ago (or in how long) that is."""
    if not isinstance(value, datetime):
        return _NONE
    return format_html(
        '{} <span class="age">({})</span>', _time_element(value), relative_text(value)
    )


@register.filter
def age(seconds: float | None) -> str:
    """A duration in seconds: ``< 1 min``, ``5 min``, ``3 h``, ``2 d``, ``never``."""
    return age_text(seconds)


@register.simple_tag
def name_region(name: str, region: str) -> SafeString:
    """``name · region``: the reusable piece for any row whose name may exist in two
    regions (dashboard, wallboard, lists)."""
    if not region:
        return format_html("{}", name)
    return format_html('{}<span class="region">{}{}</span>', name, REGION_SEPARATOR, region)


@register.filter
def with_region(obj: Any) -> SafeString:
    """``{{ cluster|with_region }}`` or ``{{ service|with_region }}`` (the service's
    cluster's region)."""
    region = getattr(obj, "region", None)
    if region is None and getattr(obj, "cluster", None) is not None:
        region = obj.cluster.region
    return name_region(getattr(obj, "name", str(obj)), region or "")


@register.filter
def usd(amount: Any) -> str:
    return "" if amount is None or amount == "" else usd_text(amount)
