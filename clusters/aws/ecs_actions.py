"""Write side of ECS: the actions operators take (forced redeploys, rollbacks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusters.aws.ecs import DeploymentInfo, ServiceInfo, _service
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
