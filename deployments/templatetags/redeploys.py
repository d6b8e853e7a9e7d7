"""Template helpers for the redeploy panel on the service page."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.db.models import Q
from django.utils import timezone

from deployments.models import ACTIVE_STATUSES, Redeploy, Service
from deployments.redeploy.selectors import RedeployProgress, redeploy_progress

register = template.Library()


@register.simple_tag
def latest_redeploy_progress(service: Service) -> RedeployProgress | None:
    """The service's newest redeploy with its progress, while it runs and for an
    hour after (the service page's include only gets ``service``)."""
    recent = timezone.now() - timedelta(hours=1)
    latest = (
        Redeploy.objects.filter(service=service)
        .filter(Q(status__in=ACTIVE_STATUSES) | Q(finished_at__gte=recent))
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    return redeploy_progress(redeploy_id=latest) if latest else None
