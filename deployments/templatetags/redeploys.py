"""Template helpers for the redeploy panel on the service page."""

from __future__ import annotations

from django import template

from deployments.models import Redeploy, Service
from deployments.redeploy_selectors import RedeployProgress, redeploy_progress

register = template.Library()


@register.simple_tag
def latest_redeploy_progress(service: Service) -> RedeployProgress | None:
    """The service's newest redeploy with its progress (the service page's include
    only gets ``service``)."""
    latest = (
        Redeploy.objects.filter(service=service)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return redeploy_progress(redeploy_id=latest) if latest else None
