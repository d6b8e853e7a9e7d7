"""Write side of ECS: the actions operators take (forced redeploys, rollbacks,
stopping a service deployment with a rollback)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusters.aws.ecs import DeploymentInfo, ServiceInfo, _service
from clusters.aws.ecs_history_types import ServiceDeploymentBrief, _service_deployment_brief
from clusters.aws.errors import AwsPermanentError, aws_call_errors
from clusters.aws.session import aws_client

if TYPE_CHECKING:
    from clusters.models import AwsAccount


@dataclass(frozen=True)
class ForcedDeployment:
    """What UpdateService(forceNewDeployment) answered: the new PRIMARY deployment
    and the service as AWS sees it right after the call."""

    deployment: DeploymentInfo
    service: ServiceInfo


def ecs_force_new_deployment(
    *, account: AwsAccount, region: str, cluster_arn: str, service_arn: str
) -> ForcedDeployment:
    """Start a new deployment of the service with its current task definition.

    One attempt only (``max_attempts=1``): UpdateService is not idempotent, and a
    retry after a timeout could start a second deployment. The caller records the
    typed error and lets an operator retry.
    """
    ecs = aws_client(account=account, region=region, service="ecs", max_attempts=1)
    with aws_call_errors():
        answer = ecs.update_service(
            cluster=cluster_arn, service=service_arn, forceNewDeployment=True
        )
    return _forced(answer)


def ecs_service_task_definition_set(
    *,
    account: AwsAccount,
    region: str,
    cluster_arn: str,
    service_arn: str,
    task_definition_arn: str,
) -> ForcedDeployment:
    """Start a deployment of the service on another task definition (a rollback to
    an earlier revision). One attempt only, for the reason given above."""
    ecs = aws_client(account=account, region=region, service="ecs", max_attempts=1)
    with aws_call_errors():
        answer = ecs.update_service(
            cluster=cluster_arn, service=service_arn, taskDefinition=task_definition_arn
        )
    return _forced(answer)


def _forced(answer: dict[str, Any]) -> ForcedDeployment:
    service = _service(answer["service"])
    primary = next((d for d in service.deployments if d.status == "PRIMARY"), None)
    if primary is None:
        raise AwsPermanentError(
            "NoPrimaryDeployment",
            "UpdateService answered without a PRIMARY deployment",
            operation="UpdateService",
        )
    return ForcedDeployment(deployment=primary, service=service)


class ServiceDeploymentNotFound(AwsPermanentError):
    """StopServiceDeployment: AWS knows no such service deployment (or not any more)."""


class ServiceDeploymentNotInFlight(AwsPermanentError):
    """StopServiceDeployment: the deployment already finished (SUCCESSFUL, STOPPED,
    ROLLBACK_SUCCESSFUL/FAILED); roll back with UpdateService instead."""


STOP_ERRORS: dict[str, type[AwsPermanentError]] = {
    "ServiceDeploymentNotFoundException": ServiceDeploymentNotFound,
    "ConflictException": ServiceDeploymentNotInFlight,
}


def service_deployment_stop(
    arn: str, stop_type: str = "ROLLBACK", *, account: AwsAccount, region: str | None = None
) -> str:
    """Ask AWS to stop an in-flight service deployment (ROLLBACK: back to the previous
    service revision, even where the circuit breaker's rollback is off).

    Retries are safe: a deployment already rolling back "continues the rollback", so a
    repeated call answers the same. The region is the ARN's unless given. Returns the
    stopped deployment's ARN; raises ``ServiceDeploymentNotFound`` /
    ``ServiceDeploymentNotInFlight`` (both ``AwsPermanentError``) or the usual typed errors.
    """
    ecs = aws_client(account=account, region=region or arn.split(":")[3], service="ecs")
    try:
        with aws_call_errors():
            answer = ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType=stop_type)
    except AwsPermanentError as exc:
        mapped = STOP_ERRORS.get(exc.code)
        if mapped is None:
            raise
        raise mapped(exc.code, exc.message, operation=exc.operation) from exc
    return str(answer.get("serviceDeploymentArn") or arn)


def service_deployments_in_flight(
    *, account: AwsAccount, region: str, cluster_arn: str, service_arn: str
) -> list[ServiceDeploymentBrief]:
    """The service's deployments AWS still rolls out (PENDING / IN_PROGRESS), newest
    first: one ListServiceDeployments call (a service has one or two in flight at
    most, far below a page), to find the ARN StopServiceDeployment needs."""
    ecs = aws_client(account=account, region=region, service="ecs")
    with aws_call_errors():
        answer = ecs.list_service_deployments(
            cluster=cluster_arn, service=service_arn, status=["IN_PROGRESS", "PENDING"]
        )
    return [_service_deployment_brief(d) for d in answer.get("serviceDeployments") or []]
