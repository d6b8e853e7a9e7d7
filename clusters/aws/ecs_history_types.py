"""ECS's deployment history as dataclasses: service deployments (ListServiceDeployments,
DescribeServiceDeployments) and the immutable service revisions they deploy
(DescribeServiceRevisions), with the parsers from API dicts. The reader
(``clusters.aws.ecs``) returns these; ``ecs_types`` holds the rest of ECS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A service deployment's statuses (ServiceDeploymentStatus); the last four are
# rollbacks, whether the circuit breaker's or StopServiceDeployment's.
IN_FLIGHT_STATUSES = frozenset(
    {"PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
)


def deployment_id_of(service_deployment_arn: str) -> str:
    """The ECS deployment id (``ecs-svc/…``) a service deployment ARN names."""
    return "ecs-svc/" + service_deployment_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ServiceDeploymentBrief:
    """One row of ListServiceDeployments."""

    arn: str
    service_arn: str
    cluster_arn: str
    status: str
    status_reason: str
    target_revision_arn: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def deployment_id(self) -> str:
        """DescribeServices' ``deployments[].id`` of this deployment: the ARN ends with its
        digits (``…/service-deployment/CLUSTER/SERVICE/123…`` is ``ecs-svc/123…``)."""
        return deployment_id_of(self.arn)


@dataclass(frozen=True)
class RevisionCounts:
    """ServiceRevisionSummary: a revision and its task counts within a deployment."""

    arn: str
    requested: int
    running: int
    pending: int


@dataclass(frozen=True)
class RollbackInfo:
    reason: str
    started_at: datetime | None
    revision_arn: str


@dataclass(frozen=True)
class CircuitBreakerInfo:
    status: str  # TRIGGERED | MONITORING | MONITORING_COMPLETE | DISABLED
    failure_count: int
    threshold: int


@dataclass(frozen=True)
class ServiceDeploymentInfo:
    """DescribeServiceDeployments' ServiceDeployment."""

    arn: str
    service_arn: str
    cluster_arn: str
    status: str
    status_reason: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    stopped_at: datetime | None
    updated_at: datetime | None
    target: RevisionCounts | None
    sources: list[RevisionCounts] = field(default_factory=list)
    rollback: RollbackInfo | None = None
    circuit_breaker: CircuitBreakerInfo | None = None
    deployment_configuration: dict[str, Any] = field(default_factory=dict)

    @property
    def deployment_id(self) -> str:
        return deployment_id_of(self.arn)

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT_STATUSES


@dataclass(frozen=True)
class ContainerImageInfo:
    container_name: str
    image: str
    image_digest: str


@dataclass(frozen=True)
class ServiceRevisionInfo:
    """DescribeServiceRevisions' ServiceRevision (immutable once created)."""

    arn: str
    service_arn: str
    cluster_arn: str
    task_definition_arn: str
    launch_type: str
    created_at: datetime | None
    container_images: list[ContainerImageInfo] = field(default_factory=list)
    service_registries: list[dict[str, Any]] = field(default_factory=list)
    service_connect: dict[str, Any] | None = None
    network_configuration: dict[str, Any] | None = None


def _counts(d: dict[str, Any] | None) -> RevisionCounts | None:
    if not d:
        return None
    return RevisionCounts(
        arn=str(d.get("arn") or ""),
        requested=int(d.get("requestedTaskCount") or 0),
        running=int(d.get("runningTaskCount") or 0),
        pending=int(d.get("pendingTaskCount") or 0),
    )


def _service_deployment_brief(d: dict[str, Any]) -> ServiceDeploymentBrief:
    return ServiceDeploymentBrief(
        arn=str(d["serviceDeploymentArn"]),
        service_arn=str(d.get("serviceArn") or ""),
        cluster_arn=str(d.get("clusterArn") or ""),
        status=str(d.get("status") or ""),
        status_reason=str(d.get("statusReason") or ""),
        target_revision_arn=str(d.get("targetServiceRevisionArn") or ""),
        created_at=d.get("createdAt"),
        started_at=d.get("startedAt"),
        finished_at=d.get("finishedAt"),
    )


def _rollback(d: dict[str, Any] | None) -> RollbackInfo | None:
    if not d:
        return None
    return RollbackInfo(
        reason=str(d.get("reason") or ""),
        started_at=d.get("startedAt"),
        revision_arn=str(d.get("serviceRevisionArn") or ""),
    )


def _breaker(d: dict[str, Any] | None) -> CircuitBreakerInfo | None:
    if not d:
        return None
    return CircuitBreakerInfo(
        status=str(d.get("status") or ""),
        failure_count=int(d.get("failureCount") or 0),
        threshold=int(d.get("threshold") or 0),
    )


def _service_deployment(d: dict[str, Any]) -> ServiceDeploymentInfo:
    sources = [_counts(s) for s in d.get("sourceServiceRevisions") or []]
    return ServiceDeploymentInfo(
        arn=str(d["serviceDeploymentArn"]),
        service_arn=str(d.get("serviceArn") or ""),
        cluster_arn=str(d.get("clusterArn") or ""),
        status=str(d.get("status") or ""),
        status_reason=str(d.get("statusReason") or ""),
        created_at=d.get("createdAt"),
        started_at=d.get("startedAt"),
        finished_at=d.get("finishedAt"),
        stopped_at=d.get("stoppedAt"),
        updated_at=d.get("updatedAt"),
        target=_counts(d.get("targetServiceRevision")),
        sources=[s for s in sources if s is not None],
        rollback=_rollback(d.get("rollback")),
        circuit_breaker=_breaker(d.get("deploymentCircuitBreaker")),
        deployment_configuration=dict(d.get("deploymentConfiguration") or {}),
    )


def _service_revision(d: dict[str, Any]) -> ServiceRevisionInfo:
    return ServiceRevisionInfo(
        arn=str(d["serviceRevisionArn"]),
        service_arn=str(d.get("serviceArn") or ""),
        cluster_arn=str(d.get("clusterArn") or ""),
        task_definition_arn=str(d.get("taskDefinition") or ""),
        launch_type=str(d.get("launchType") or ""),
        created_at=d.get("createdAt"),
        container_images=[
            ContainerImageInfo(
                container_name=str(c.get("containerName") or ""),
                image=str(c.get("image") or ""),
                image_digest=str(c.get("imageDigest") or ""),
            )
            for c in d.get("containerImages") or []
        ],
        service_registries=list(d.get("serviceRegistries") or []),
        service_connect=d.get("serviceConnectConfiguration"),
        network_configuration=d.get("networkConfiguration"),
    )
