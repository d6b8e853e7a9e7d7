"""Read side of forced redeploys for pages (fixed number of queries each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, QuerySet

from clusters.models import Event, EventSource
from deployments.models import Deployment, Redeploy

RECENT_EVENTS = 8


@dataclass
class RedeployProgress:
    redeploy: Redeploy
    deployment: Deployment | None  # the deployment the redeploy started (once mirrored)
    draining: list[Deployment] = field(default_factory=list)  # the others still live
    events: list[Event] = field(default_factory=list)  # the service's events since
    started_tasks: int = 0
    stopped_tasks: int = 0

    @property
    def desired(self) -> int:
        if self.deployment is not None:
            return self.deployment.desired_count
        return self.redeploy.service.desired_count

    @property
    def running(self) -> int:
        return self.deployment.running_count if self.deployment is not None else 0

    @property
    def progress_max(self) -> int:
        return max(self.desired, 1)

    @property
    def percent(self) -> int:
        if self.desired == 0:
            return 100 if self.redeploy.is_terminal else 0
        return min(100, round(100 * self.running / self.desired))

    @property
    def rollout_state(self) -> str:
        return self.deployment.rollout_state if self.deployment is not None else ""


def redeploys_query(*, service_id: int | None = None) -> QuerySet[Redeploy]:
    qs = Redeploy.objects.select_related(
        "service", "service__cluster", "requested_by", "deployment"
    )
    if service_id is not None:
        qs = qs.filter(service_id=service_id)
    return qs.order_by("-created_at", "-id")


def redeploy_progress(*, redeploy_id: int) -> RedeployProgress | None:
    """Everything the live progress panel shows, in four queries."""
    redeploy = (
        Redeploy.objects.select_related(
            "service", "service__cluster", "requested_by", "deployment", "batch"
        )
        .filter(pk=redeploy_id)
        .first()
    )
    if redeploy is None:
        return None
    service = redeploy.service
    live = list(
        Deployment.objects.filter(service=service)
        .exclude(status="INACTIVE")
        .exclude(deployment_id=redeploy.aws_deployment_id or "-")
        .order_by("-created_at_aws", "-id")
    )
    since = redeploy.created_at - timedelta(seconds=5)
    events = list(
        Event.objects.filter(
            service_arn=service.arn,
            source__in=[EventSource.ECS_SERVICE_EVENT, EventSource.DEPLOYMENT],
            occurred_at__gte=since,
        ).order_by("-occurred_at", "-id")[:RECENT_EVENTS]
    )
    counts = service.tasks.aggregate(
        started=Count(
            "id",
            filter=Q(started_by=redeploy.aws_deployment_id or "-", last_status="RUNNING"),
        ),
        stopped=Count(
            "id",
            filter=Q(last_status="STOPPED", stopped_at__gte=redeploy.requested_at or since),
        ),
    )
    return RedeployProgress(
        redeploy=redeploy,
        deployment=redeploy.deployment,
        draining=live,
        events=events,
        started_tasks=counts["started"],
        stopped_tasks=counts["stopped"],
    )
