"""The one health badge: ``{% health_badge obj %}`` renders a subject's stored
state (``clusters.models.HealthFields``) with ``data-subject`` and ``data-health``,
so every page shows the same answer and a test can compare them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template

from clusters.display import timestamp_text
from clusters.health import BADGE, HealthState

register = template.Library()

# Model class name -> subject kind in ``data-subject="<kind>:<id>"``.
KINDS = {
    "Service": "service",
    "Cluster": "cluster",
    "ContainerInstance": "instance",
    "DockerHost": "host",
    "AwsAccount": "account",
}


def subject_of(obj: Any, kind: str = "") -> str:
    if isinstance(obj, dict):
        return f"{kind}:{obj['id']}"
    return f"{kind or KINDS[type(obj).__name__]}:{obj.pk}"


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def health_label(state: str, reasons: list[dict[str, Any]] | None) -> str:
    if state == HealthState.UNKNOWN and (
        not reasons or any(r.get("code") == "never-synced" for r in reasons)
    ):
        return "waiting for first sync"
    return str(state)


@register.inclusion_tag("components/health_badge.html")
def health_badge(obj: Any, kind: str = "", detail: bool = False) -> dict[str, Any]:
    """``kind`` is needed for ``values()`` rows (dicts with ``id`` and ``health_*``);
    ``detail`` adds the first reason after the badge."""
    state = _field(obj, "health_state") or HealthState.UNKNOWN
    reasons = _field(obj, "health_reasons") or []
    return {
        "subject": subject_of(obj, kind),
        "state": state,
        "label": health_label(state, reasons),
        "css": BADGE.get(state, "badge-muted"),
        "title": "; ".join(r.get("message", "") for r in reasons) or health_label(state, reasons),
        "first_reason": reasons[0]["message"] if detail and reasons else "",
    }


@register.inclusion_tag("components/health_badge.html")
def health_badge_subject(
    subject: str, state: str, reasons: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The same badge when the subject is already named (``"service:12"``)."""
    kind, _, pk = subject.partition(":")
    return health_badge({"id": pk, "health_state": state, "health_reasons": reasons}, kind)


@register.filter
def health_css(state: str) -> str:
    return BADGE.get(state, "badge-muted")


@register.filter
def iso_time(value: str | None) -> str:
    """A reason's ``since`` (ISO 8601) in the console's one format."""
    if not value:
        return ""
    try:
        return timestamp_text(datetime.fromisoformat(value))
    except ValueError:
        return value
