"""Service deployments and service revisions (ECS's deployment history, 2024-25).

AWS keeps, beside DescribeServices' ``deployments``, one *service deployment*
per deployment (``ListServiceDeployments`` / ``DescribeServiceDeployments``)
pointing at an immutable *service revision* (``DescribeServiceRevisions``), and
``StopServiceDeployment(stopType=ROLLBACK)`` rolls an in-flight one back.

moto 5.2.5 has none of it. This module records them around the scheduler:
``scheduler.new_deployment`` is wrapped (a deployment that is not a rollback
gets a service deployment and a new revision; a rollback gets neither and is
linked to the service deployment it rolls back), ``scheduler.reconcile`` is
wrapped (statuses move on ticks), and the four handlers are added to moto's
ECS response class the way :mod:`sandbox.ecs_api` patches the others.

A service deployment's ARN ends with its ECS deployment id without the
``ecs-svc/`` prefix, so DescribeServices' ``deployments[].id`` names it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition

from sandbox import scheduler
from sandbox.ecs_model import Deployment, SandboxService
from sandbox.state import CLOCK

IN_FLIGHT = ("PENDING", "IN_PROGRESS")
ROLLING_BACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
RETENTION_SECONDS = 90 * 24 * 3600  # "Amazon ECS keeps service deployment history for 90 days"
BATCH_LIMIT = 20
SUPERSEDED = "A newer service deployment was started."
MANUAL_ROLLBACK = "Service deployment rolled back by StopServiceDeployment."
ROLLBACK_REASON = "Service deployment rollback: rolling back to deploymentId {dep}."


def now_ms() -> float:
    """AWS timestamps carry milliseconds; so filters on echoed values match exactly."""
    return round(CLOCK.timestamp(), 3)


class ServiceDeploymentNotFoundException(JsonRESTError):
    def __init__(self) -> None:
        super().__init__(
            "ServiceDeploymentNotFoundException", "The service deployment does not exist."
        )


class ConflictException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ConflictException", message)


@dataclass
class ServiceRevision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    launch_type: str
    container_images: list[dict[str, str]]
    service_registries: list[dict[str, Any]]
    service_connect: dict[str, Any] | None
    network_configuration: dict[str, Any] | None
    created_at: float = field(default_factory=now_ms)

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceRevisionArn": self.arn,
            "serviceArn": self.service_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinition": self.task_definition,
            "launchType": self.launch_type,
            "loadBalancers": [],
            "serviceRegistries": self.service_registries,
            "containerImages": self.container_images,
            "guardDutyEnabled": False,
            "createdAt": self.created_at,
        }
        if self.service_connect is not None:
            out["serviceConnectConfiguration"] = self.service_connect
        if self.network_configuration:
            out["networkConfiguration"] = self.network_configuration
        return out


@dataclass(eq=False)
class ServiceDeployment:
    arn: str
    ecs_id: str
    service: SandboxService
    target: ServiceRevision
    # (ECS deployment id, service revision ARN) that were running when it began.
    sources: list[tuple[str, str]]
    deployment_configuration: dict[str, Any]
    status: str = "PENDING"
    status_reason: str = ""
    created_at: float = field(default_factory=now_ms)
    updated_at: float = field(default_factory=now_ms)
    started_at: float | None = None
    finished_at: float | None = None
    stopped_at: float | None = None
    rollback: dict[str, Any] | None = None
    rollback_ecs_id: str | None = None
    breaker_triggered: bool = False
    failure_count: int = 0

    def move(self, status: str, reason: str | None = None) -> None:
        now = now_ms()
        self.status, self.updated_at = status, now
        if reason is not None:
            self.status_reason = reason
        if status == "IN_PROGRESS" and self.started_at is None:
            self.started_at = now
        if status in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"):
            self.finished_at = now
            if status == "STOPPED":
                self.stopped_at = now

    @property
    def finished(self) -> bool:
        return self.status not in IN_FLIGHT + ROLLING_BACK

    def breaker(self) -> dict[str, Any]:
        cb = self.deployment_configuration.get("deploymentCircuitBreaker") or {}
        if not cb.get("enable"):
            status = "DISABLED"
        elif self.breaker_triggered:
            status = "TRIGGERED"
        else:
            status = "MONITORING_COMPLETE" if self.finished else "MONITORING"
        return {
            "status": status,
            "failureCount": self.failure_count,
            "threshold": self.service.failure_threshold(),
        }


@dataclass
class History:
    deployments: dict[str, ServiceDeployment] = field(default_factory=dict)
    revisions: dict[str, ServiceRevision] = field(default_factory=dict)
    # ECS deployment id -> its service deployment (a rollback's id -> the one it rolls back)
    by_ecs_id: dict[str, ServiceDeployment] = field(default_factory=dict)
    # ECS deployment id -> the service revision its tasks run
    revision_of: dict[str, str] = field(default_factory=dict)

    def clear(self) -> None:
        for d in (self.deployments, self.revisions, self.by_ecs_id, self.revision_of):
            d.clear()

    def of_service(self, svc: SandboxService) -> list[ServiceDeployment]:
        return [sd for sd in self.deployments.values() if sd.service.arn == svc.arn]


HISTORY = History()


def _short(ecs_id: str) -> str:
    return ecs_id.rsplit("/", 1)[-1]


def _arn(svc: SandboxService, kind: str, ecs_id: str) -> str:
    prefix = f"arn:aws:ecs:{svc.region_name}:{svc.account_id}"
    return f"{prefix}:{kind}/{svc.cluster_name}/{svc.name}/{_short(ecs_id)}"


def _digest(image: str) -> str:
    # Stable per image reference, so the same tag always shows the same digest.
    return "sha256:" + hashlib.sha256(image.encode()).hexdigest()


def new_revision(svc: SandboxService, dep: Deployment) -> ServiceRevision:
    td: TaskDefinition = dep.task_definition
    containers: list[dict[str, Any]] = td.container_definitions
    images = [
        {
            "containerName": str(c["name"]),
            "image": str(c["image"]),
            "imageDigest": _digest(str(c["image"])),
        }
        for c in containers
    ]
    rev = ServiceRevision(
        arn=_arn(svc, "service-revision", dep.id),
        service_arn=svc.arn,
        cluster_arn=svc.cluster_arn,
        task_definition=td.arn,
        launch_type=svc.launch_type,
        container_images=images,
        service_registries=json.loads(json.dumps(getattr(svc, "service_registries", []))),
        service_connect=json.loads(json.dumps(getattr(svc, "service_connect", None))),
        network_configuration=svc.network_configuration,
    )
    HISTORY.revisions[rev.arn] = rev
    HISTORY.revision_of[dep.id] = rev.arn
    return rev


def record(svc: SandboxService, dep: Deployment, running: list[Deployment]) -> ServiceDeployment:
    """A deployment that is not a rollback: a service deployment and a revision."""
    for older in HISTORY.of_service(svc):
        if older.status in IN_FLIGHT:
            older.move("STOPPED", SUPERSEDED)
        elif older.status in ROLLING_BACK:
            older.move("ROLLBACK_FAILED", SUPERSEDED)
    sources = [(d.id, HISTORY.revision_of[d.id]) for d in running if d.id in HISTORY.revision_of]
    sd = ServiceDeployment(
        arn=_arn(svc, "service-deployment", dep.id),
        ecs_id=dep.id,
        service=svc,
        target=new_revision(svc, dep),
        sources=sources,
        deployment_configuration=json.loads(json.dumps(svc.deployment_configuration)),
    )
    HISTORY.deployments[sd.arn] = sd
    HISTORY.by_ecs_id[dep.id] = sd
    return sd


def link_rollback(before: Deployment, dep: Deployment, rollback_to: str) -> None:
    """A rollback deployment runs an existing revision and belongs to the one it undoes."""
    target = HISTORY.revision_of.get(rollback_to)
    if target is not None:
        HISTORY.revision_of[dep.id] = target
    sd = HISTORY.by_ecs_id.get(before.id)
    if sd is None:
        return
    if before.rollout_state == "FAILED" and sd.status in ROLLING_BACK:
        sd.move("ROLLBACK_FAILED", before.rollout_state_reason)  # the rollback itself failed
        return
    HISTORY.by_ecs_id[dep.id] = sd
    sd.rollback_ecs_id = dep.id
    if before.rollout_state == "FAILED":  # the circuit breaker's own rollback
        sd.breaker_triggered = True
        sd.failure_count = before.failed_tasks
        sd.rollback = {
            "reason": before.rollout_state_reason,
            "startedAt": now_ms(),
            "serviceRevisionArn": target,
        }
        sd.move("ROLLBACK_IN_PROGRESS", before.rollout_state_reason)


def adopt(svc: SandboxService) -> None:
    """Deployments made without CreateService (the seed's services) join the history."""
    for dep in reversed(svc.deployments):
        if dep.id in HISTORY.revision_of:
            continue
        sd = record(svc, dep, [])
        sd.created_at = sd.updated_at = round(dep.created_at, 3)
        if dep.rollout_state == "COMPLETED":
            sd.move("IN_PROGRESS")
            sd.move("SUCCESSFUL", dep.rollout_state_reason)


_original_new_deployment = scheduler.new_deployment


def new_deployment(
    svc: SandboxService, td: TaskDefinition, rollback_to: str | None = None
) -> Deployment:
    adopt(svc)
    before = svc.primary
    running = list(svc.deployments)
    dep = _original_new_deployment(svc, td, rollback_to)
    if rollback_to is None:
        record(svc, dep, running)
    else:
        link_rollback(before, dep, rollback_to)
    return dep


# --- the scheduler's step ------------------------------------------------------


def _ecs(svc: SandboxService, ecs_id: str | None) -> Deployment | None:
    return next((d for d in svc.deployments if d.id == ecs_id), None)


def previous_revision(sd: ServiceDeployment) -> str | None:
    """The revision the service ran last completed before ``sd`` (else what it replaced)."""
    for older in sorted(HISTORY.of_service(sd.service), key=lambda s: -s.created_at):
        if older.created_at >= sd.created_at or older is sd:
            continue
        if older.status == "SUCCESSFUL":
            return older.target.arn
        if older.status == "ROLLBACK_SUCCESSFUL" and older.rollback:
            return str(older.rollback["serviceRevisionArn"])
    return sd.sources[0][1] if sd.sources else None


def start_rollback(backend: EC2ContainerServiceBackend, sd: ServiceDeployment) -> None:
    rev_arn = previous_revision(sd)
    if rev_arn is None:
        sd.move("ROLLBACK_FAILED", "There is no previous service revision to roll back to.")
        return
    rev = HISTORY.revisions[rev_arn]
    good_id = next(i for i, r in HISTORY.revision_of.items() if r == rev_arn)
    sd.rollback = {
        "reason": MANUAL_ROLLBACK,
        "startedAt": now_ms(),
        "serviceRevisionArn": rev_arn,
    }
    sd.move("ROLLBACK_IN_PROGRESS", MANUAL_ROLLBACK)
    td = backend.describe_task_definition(rev.task_definition)
    dep = scheduler.new_deployment(sd.service, td, rollback_to=good_id)
    dep.rollout_state_reason = ROLLBACK_REASON.format(dep=good_id)


def judge(sd: ServiceDeployment) -> None:
    """After a step: did the deployment (or its rollback) finish?"""
    svc = sd.service
    if sd.status == "IN_PROGRESS":
        dep = _ecs(svc, sd.ecs_id)
        if dep is None:
            return
        sd.failure_count = dep.failed_tasks
        if dep.rollout_state == "COMPLETED":
            sd.move("SUCCESSFUL", dep.rollout_state_reason)
        elif dep.rollout_state == "FAILED":
            sd.breaker_triggered = True
            sd.move("STOPPED", dep.rollout_state_reason)
    elif sd.status == "ROLLBACK_IN_PROGRESS":
        rb = _ecs(svc, sd.rollback_ecs_id)
        if rb is not None and rb.rollout_state == "COMPLETED":
            sd.move("ROLLBACK_SUCCESSFUL")
        elif rb is not None and rb.rollout_state == "FAILED":
            sd.move("ROLLBACK_FAILED", rb.rollout_state_reason)


_original_reconcile = scheduler.reconcile


def reconcile(backend: EC2ContainerServiceBackend, svc: SandboxService, instances: Any) -> None:
    adopt(svc)
    for sd in HISTORY.of_service(svc):
        if sd.status == "PENDING":
            sd.move("IN_PROGRESS")
        elif sd.status == "ROLLBACK_REQUESTED":
            start_rollback(backend, sd)
    _original_reconcile(backend, svc, instances)
    for sd in HISTORY.of_service(svc):
        judge(sd)


_original_reset = scheduler.reset


def reset() -> None:
    _original_reset()
    HISTORY.clear()


# --- the API -------------------------------------------------------------------


def _summary(svc: SandboxService, ecs_id: str, rev_arn: str) -> dict[str, Any]:
    dep = _ecs(svc, ecs_id)
    return {
        "arn": rev_arn,
        "requestedTaskCount": dep.desired_count if dep else 0,
        "runningTaskCount": dep.running_count if dep else 0,
        "pendingTaskCount": dep.pending_count if dep else 0,
    }


def render_brief(sd: ServiceDeployment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "serviceDeploymentArn": sd.arn,
        "serviceArn": sd.service.arn,
        "clusterArn": sd.service.cluster_arn,
        "createdAt": sd.created_at,
        "targetServiceRevisionArn": sd.target.arn,
        "status": sd.status,
    }
    if sd.status_reason:
        out["statusReason"] = sd.status_reason
    for key, value in (("startedAt", sd.started_at), ("finishedAt", sd.finished_at)):
        if value is not None:
            out[key] = value
    return out


def render(sd: ServiceDeployment) -> dict[str, Any]:
    out = render_brief(sd)
    del out["targetServiceRevisionArn"]
    out.update(
        {
            "updatedAt": sd.updated_at,
            "sourceServiceRevisions": [
                _summary(sd.service, ecs_id, rev) for ecs_id, rev in sd.sources
            ],
            "targetServiceRevision": _summary(sd.service, sd.ecs_id, sd.target.arn),
            "deploymentConfiguration": sd.deployment_configuration,
            "deploymentCircuitBreaker": sd.breaker(),
            "alarms": {"status": "DISABLED"},
        }
    )
    if sd.stopped_at is not None:
        out["stoppedAt"] = sd.stopped_at
    if sd.rollback is not None:
        out["rollback"] = sd.rollback
    return out
