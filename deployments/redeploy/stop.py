"""A rollback of a deployment in flight: StopServiceDeployment(stopType=ROLLBACK) on
it, so AWS stops it and returns the service to the previous revision itself.

The worker finds the deployment's serviceDeploymentArn with one
ListServiceDeployments call (status IN_PROGRESS / PENDING), matched to the
deployment the mirror shows in flight. When AWS no longer has it in flight (it
finished between the confirm step and the worker), the rollback falls back, once,
to UpdateService(taskDefinition=target) and says so on the object (its ``method``)
and the timeline. AWS's rollback is a new ECS deployment: until the mirror shows
it, the redeploy names the stopped deployment; ``stop_rollback_resolved`` then
switches to the deployment on the target task definition created after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from clusters.aws.ecs_actions import (
    ServiceDeploymentNotFound,
    ServiceDeploymentNotInFlight,
    service_deployment_stop,
    service_deployments_in_flight,
)
from clusters.core.timeline import dedupe_key, event_record
from clusters.models import EventSource
from deployments.models import Deployment, Redeploy, RedeployStatus, RollbackMethod
from deployments.redeploy.start import service_subjects


@dataclass(frozen=True)
class StoppedDeployment:
    """StopServiceDeployment accepted: the ECS deployment (``ecs-svc/…``) it stops."""

    deployment_id: str
    arn: str


def mirrored_in_flight(service_id: int) -> list[str]:
    """Deployment ids the mirror shows rolling out (live, IN_PROGRESS), newest first."""
    return list(
        Deployment.objects.filter(service_id=service_id, rollout_state="IN_PROGRESS")
        .exclude(status="INACTIVE")
        .order_by("-created_at_aws", "-id")
        .values_list("deployment_id", flat=True)
    )


def rollback_stop(redeploy: Redeploy, where: dict[str, Any]) -> StoppedDeployment | str:
    """Stop the in-flight deployment with a rollback. Returns it, or why it could
    not be stopped (no longer in flight): the caller falls back to UpdateService."""
    wanted = mirrored_in_flight(redeploy.service_id)
    listed = service_deployments_in_flight(**where)
    match = next((sd for sd in listed if sd.deployment_id in wanted), None)
    shown = ", ".join(wanted) or "the deployment"
    if match is None:
        return f"{shown} was no longer in flight"
    try:
        arn = service_deployment_stop(match.arn, account=where["account"], region=where["region"])
    except (ServiceDeploymentNotFound, ServiceDeploymentNotInFlight) as exc:
        return f"{match.deployment_id} could not be stopped ({exc.code}: {exc.message})"
    return StoppedDeployment(deployment_id=match.deployment_id, arn=arn)


def stop_fallback_record(redeploy: Redeploy, why: str) -> str:
    """The rollback goes on with UpdateService: recorded on the object (its method);
    returns the words for the timeline."""
    Redeploy.objects.filter(pk=redeploy.pk).update(method=RollbackMethod.UPDATE_SERVICE)
    redeploy.method = RollbackMethod.UPDATE_SERVICE
    return f"{why}, so UpdateService instead of StopServiceDeployment"


def stop_started(redeploy: Redeploy, stopped: StoppedDeployment, who: str) -> None:
    """AWS accepted the stop: the redeploy follows it; one timeline event."""
    now = timezone.now()
    Redeploy.objects.filter(pk=redeploy.pk).update(
        status=RedeployStatus.IN_PROGRESS, aws_deployment_id=stopped.deployment_id, requested_at=now
    )
    service = redeploy.service
    event_record(
        source=EventSource.DEPLOYMENT,
        message=f"Deployment {stopped.deployment_id} of {service.name} stopped: rolling back to "
        f"{redeploy.target_revision} (StopServiceDeployment by {who}: {redeploy.reason})",
        dedupe_key=dedupe_key("deployment", stopped.deployment_id, "stop-rollback"),
        actor=redeploy.requested_by,
        occurred_at=now,
        details={
            "deploymentId": stopped.deployment_id,
            "serviceDeploymentArn": stopped.arn,
            "redeploy_id": redeploy.pk,
            "taskDefinition": redeploy.target_task_definition_arn,
        },
        **service_subjects(service),
    )


def stop_rollback_resolved(redeploy: Redeploy) -> bool:
    """True when the redeploy names AWS's rollback deployment (not the stopped one):
    switched here to the service's deployment on the target task definition created
    after the stopped one (AWS's clock on both sides), once the mirror shows it."""
    stopped = (
        Deployment.objects.select_related("task_definition")
        .filter(service_id=redeploy.service_id, deployment_id=redeploy.aws_deployment_id)
        .first()
    )
    if stopped is None or stopped.created_at_aws is None:
        return False
    target = redeploy.target_task_definition_arn
    if stopped.task_definition is not None and stopped.task_definition.arn == target:
        return True
    rollback = (
        Deployment.objects.filter(
            service_id=redeploy.service_id,
            task_definition__arn=target,
            created_at_aws__gte=stopped.created_at_aws,
        )
        .exclude(pk=stopped.pk)
        .order_by("-created_at_aws", "-id")
        .first()
    )
    if rollback is None:
        return False
    Redeploy.objects.filter(pk=redeploy.pk, aws_deployment_id=stopped.deployment_id).update(
        aws_deployment_id=rollback.deployment_id
    )
    redeploy.aws_deployment_id = rollback.deployment_id
    return True
