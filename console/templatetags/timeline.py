"""Small display helpers for timeline rows."""

from __future__ import annotations

from django import template

register = template.Library()

_SEVERITY_BADGE = {"info": "badge-info", "warning": "badge-warning", "error": "badge-error"}


@register.filter
def arn_tail(value: str) -> str:
    """The readable end of an ARN: ``…:service/prod/web`` -> ``web``."""
    if not value:
        return ""
    return value.rsplit("/", 1)[-1] if "/" in value else value.rsplit(":", 1)[-1]


@register.filter
def severity_badge(value: str) -> str:
    return _SEVERITY_BADGE.get(value, "badge-muted")
