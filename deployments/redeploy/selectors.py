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
    """What the panel shows, every number counted from the mirrored task rows the
    task and service events come from. A forced redeploy is done when the new
    deployment runs its desired count and every task it replaces has stopped."""

    redeploy: Redeploy
    deployment: Deployment | None  # the deployment the redeploy started (once mirrored)
    draining: list[Deployment] = field(default_factory=list)  # the others still live
    events: list[Event] = field(default_factory=list)  # the service's events since
    new_running: int = 0  # tasks of the new deployment, RUNNING
    new_pending: int = 0  # tasks of the new deployment not running yet
    new_failed: int = 0  # tasks of the new deployment that stopped
    old_total: int = 0  # tasks the new deployment replaces (live when it started)
    old_stopping: int = 0  # of those: asked to stop, not stopped yet
    old_stopped: int = 0  # of those: STOPPED

    @property
    def desired(self) -> int:
        if self.deployment is not None:
            return self.deployment.desired_count
        return self.redeploy.service.desired_count

    @property
    def running(self) -> int:
        return self.new_running

    @property
    def old_running(self) -> int:
        return self.old_total - self.old_stopping - self.old_stopped

    @property
    def steps_done(self) -> int:
        return min(self.new_running, self.desired) + self.old_stopped

    @property
    def progress_max(self) -> int:
        return max(self.desired + self.old_total, 1)

    @property
    def percent(self) -> int:
        if self.desired + self.old_total == 0:
            return 100 if self.redeploy.is_terminal else 0
        return min(100, round(100 * self.steps_done / (self.desired + self.old_total)))

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
    events = list(
        Event.objects.filter(_events_of(redeploy), service_arn=service.arn).order_by(
            "-occurred_at", "-id"
        )[:RECENT_EVENTS]
    )
    counts = _task_counts(redeploy)
    return RedeployProgress(
        redeploy=redeploy,
        deployment=redeploy.deployment,
        draining=live,
        events=events,
        new_running=counts["new_running"],
        new_pending=counts["new_pending"],
        new_failed=counts["new_failed"],
        old_total=counts["old_total"],
        old_stopping=counts["old_stopping"],
        old_stopped=counts["old_stopped"],
    )


def _events_of(redeploy: Redeploy) -> Q:
    """The redeploy's own deployment events, and the service's ECS events since its
    deployment was created, by AWS's clock, the clock those events carry (AWS's
    clock may run ahead of ours: events from before the redeploy stay out)."""
    deployment = redeploy.deployment
    ours = Q(source=EventSource.DEPLOYMENT) & (
        Q(details__redeploy_id=redeploy.pk)
        | Q(details__deploymentId=redeploy.aws_deployment_id or "-")
    )
    if deployment is not None and deployment.created_at_aws is not None:
        since = deployment.created_at_aws
    else:  # not mirrored yet: our clock, with a little slack
        since = redeploy.created_at - timedelta(seconds=5)
    return ours | Q(source=EventSource.ECS_SERVICE_EVENT, occurred_at__gte=since)


def _task_counts(redeploy: Redeploy) -> dict[str, int]:
    """The new deployment's tasks by state, and the tasks it replaces: those not
    started by it that existed when it was created and were live then (AWS's
    clock on both sides, so a skewed clock cannot hide a stop). One query."""
    new_id = redeploy.aws_deployment_id or "-"
    deployment = redeploy.deployment
    cutoff = deployment.created_at_aws if deployment is not None else None
    mine = Q(started_by=new_id)
    old = ~mine
    if cutoff is not None:
        old &= Q(created_at_aws__isnull=True) | Q(created_at_aws__lte=cutoff)
        old &= ~Q(last_status="STOPPED") | Q(stopped_at__gte=cutoff)
    else:  # not created yet: what it will replace is what is live now
        old &= ~Q(last_status="STOPPED")
    stopping = Q(desired_status="STOPPED") & ~Q(last_status="STOPPED")
    return redeploy.service.tasks.aggregate(
        new_running=Count("id", filter=mine & Q(last_status="RUNNING")),
        new_pending=Count("id", filter=mine & ~Q(last_status__in=["RUNNING", "STOPPED"])),
        new_failed=Count("id", filter=mine & Q(last_status="STOPPED")),
        old_total=Count("id", filter=old),
        old_stopping=Count("id", filter=old & stopping),
        old_stopped=Count("id", filter=old & Q(last_status="STOPPED")),
    )
