"""What ECS describes, as plain dataclasses, and the parsers from API dicts to
them. ``clusters.aws.ecs`` (the reader) returns these and exports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ClusterInfo:
    arn: str
    name: str
    status: str
    registered_instances_count: int
    running_tasks_count: int
    pending_tasks_count: int
    active_services_count: int
    # {"namespace": ARN or name} when the cluster has a Service Connect default.
    service_connect_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerInstanceInfo:
    arn: str
    ec2_instance_id: str
    is_external: bool
    status: str
    status_reason: str
    agent_connected: bool
    agent_version: str
    docker_version: str
    registered_cpu: int
    registered_memory: int
    remaining_cpu: int
    remaining_memory: int
    attributes: dict[str, str]
    tags: dict[str, str]
    health_status: str
    running_tasks_count: int
    pending_tasks_count: int
    registered_at: datetime | None
    version: int = 0  # rises on every change (ordering of events and describes)


@dataclass(frozen=True)
class DeploymentInfo:
    deployment_id: str
    status: str
    rollout_state: str
    rollout_state_reason: str
    desired_count: int
    pending_count: int
    running_count: int
    failed_tasks: int
    launch_type: str
    task_definition_arn: str
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ServiceEventInfo:
    event_id: str
    created_at: datetime | None
    message: str


@dataclass(frozen=True)
class ServiceInfo:
    arn: str
    name: str
    status: str
    desired_count: int
    running_count: int
    pending_count: int
    launch_type: str
    scheduling_strategy: str
    deployment_configuration: dict[str, Any]
    task_definition_arn: str
    created_at: datetime | None
    deployments: list[DeploymentInfo] = field(default_factory=list)
    events: list[ServiceEventInfo] = field(default_factory=list)
    # How the service is reached: what external instances cannot do (load balancers,
    # Cloud Map registries, Service Connect, capacity providers) and what the service map
    # draws. Service Connect is the PRIMARY deployment's (ECS returns it per deployment).
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    service_registries: list[dict[str, Any]] = field(default_factory=list)
    capacity_provider_strategy: list[dict[str, Any]] = field(default_factory=list)
    service_connect_configuration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    image: str
    last_status: str
    exit_code: int | None
    reason: str
    health_status: str
    runtime_id: str


@dataclass(frozen=True)
class TaskInfo:
    arn: str
    cluster_arn: str
    container_instance_arn: str
    task_definition_arn: str
    group: str
    started_by: str
    last_status: str
    desired_status: str
    health_status: str
    launch_type: str
    cpu: str
    memory: str
    stopped_reason: str
    stop_code: str
    created_at: datetime | None
    started_at: datetime | None
    stopping_at: datetime | None
    stopped_at: datetime | None
    containers: list[ContainerInfo] = field(default_factory=list)
    version: int = 0  # rises on every change (ordering of events and describes)


def _cluster(d: dict[str, Any]) -> ClusterInfo:
    return ClusterInfo(
        arn=d["clusterArn"],
        name=str(d.get("clusterName") or ""),
        status=str(d.get("status") or ""),
        registered_instances_count=int(d.get("registeredContainerInstancesCount") or 0),
        running_tasks_count=int(d.get("runningTasksCount") or 0),
        pending_tasks_count=int(d.get("pendingTasksCount") or 0),
        active_services_count=int(d.get("activeServicesCount") or 0),
        service_connect_defaults=dict(d.get("serviceConnectDefaults") or {}),
    )


def _resources(items: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in items or []:
        if r.get("type") == "INTEGER" or "integerValue" in r:
            out[str(r.get("name"))] = int(r.get("integerValue") or 0)
    return out


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value", "")) for t in items or []}


def _container_instance(d: dict[str, Any]) -> ContainerInstanceInfo:
    reg = _resources(d.get("registeredResources", []))
    rem = _resources(d.get("remainingResources", []))
    attrs = {str(a["name"]): str(a.get("value", "")) for a in d.get("attributes", []) or []}
    ec2_id = str(d.get("ec2InstanceId") or "")
    version = d.get("versionInfo") or {}
    health = (d.get("healthStatus") or {}).get("overallStatus", "")
    return ContainerInstanceInfo(
        arn=d["containerInstanceArn"],
        ec2_instance_id=ec2_id,
        is_external=ec2_id.startswith("mi-") or "ecs.capability.external" in attrs,
        status=str(d.get("status") or ""),
        status_reason=str(d.get("statusReason") or ""),
        agent_connected=bool(d.get("agentConnected")),
        agent_version=str(version.get("agentVersion") or ""),
        docker_version=str(version.get("dockerVersion") or ""),
        registered_cpu=reg.get("CPU", 0),
        registered_memory=reg.get("MEMORY", 0),
        remaining_cpu=rem.get("CPU", 0),
        remaining_memory=rem.get("MEMORY", 0),
        attributes=attrs,
        tags=_tags(d.get("tags")),
        health_status=str(health or ""),
        running_tasks_count=int(d.get("runningTasksCount") or 0),
        pending_tasks_count=int(d.get("pendingTasksCount") or 0),
        registered_at=d.get("registeredAt"),
        version=int(d.get("version") or 0),
    )


def _deployment_configuration(d: dict[str, Any]) -> dict[str, Any]:
    conf = d.get("deploymentConfiguration") or {}
    out: dict[str, Any] = {}
    for key in ("minimumHealthyPercent", "maximumPercent"):
        if key in conf:
            out[key] = conf[key]
    cb = conf.get("deploymentCircuitBreaker")
    if cb is not None:
        out["deploymentCircuitBreaker"] = {
            "enable": bool(cb.get("enable")),
            "rollback": bool(cb.get("rollback")),
        }
    return out


def _service(d: dict[str, Any]) -> ServiceInfo:
    deployments = [
        DeploymentInfo(
            deployment_id=str(x.get("id")),
            status=str(x.get("status") or ""),
            rollout_state=str(x.get("rolloutState") or ""),
            rollout_state_reason=str(x.get("rolloutStateReason") or ""),
            desired_count=int(x.get("desiredCount") or 0),
            pending_count=int(x.get("pendingCount") or 0),
            running_count=int(x.get("runningCount") or 0),
            failed_tasks=int(x.get("failedTasks") or 0),
            launch_type=str(x.get("launchType") or ""),
            task_definition_arn=str(x.get("taskDefinition") or ""),
            created_at=x.get("createdAt"),
            updated_at=x.get("updatedAt"),
        )
        for x in d.get("deployments", []) or []
    ]
    events = [
        ServiceEventInfo(
            event_id=str(e.get("id")),
            created_at=e.get("createdAt"),
            message=str(e.get("message") or ""),
        )
        for e in d.get("events", []) or []
    ]
    return ServiceInfo(
        arn=d["serviceArn"],
        name=str(d.get("serviceName") or ""),
        status=str(d.get("status") or ""),
        desired_count=int(d.get("desiredCount") or 0),
        running_count=int(d.get("runningCount") or 0),
        pending_count=int(d.get("pendingCount") or 0),
        launch_type=str(d.get("launchType") or ""),
        scheduling_strategy=str(d.get("schedulingStrategy") or ""),
        deployment_configuration=_deployment_configuration(d),
        task_definition_arn=str(d.get("taskDefinition") or ""),
        created_at=d.get("createdAt"),
        deployments=deployments,
        events=events,
        load_balancers=list(d.get("loadBalancers") or []),
        service_registries=list(d.get("serviceRegistries") or []),
        capacity_provider_strategy=list(d.get("capacityProviderStrategy") or []),
        service_connect_configuration=_primary_service_connect(d),
    )


def _primary_service_connect(d: dict[str, Any]) -> dict[str, Any]:
    for deployment in d.get("deployments") or []:
        if deployment.get("status") == "PRIMARY":
            return dict(deployment.get("serviceConnectConfiguration") or {})
    return {}


def _exit_code(value: Any) -> int | None:
    return None if value is None else int(value)


def _task(d: dict[str, Any]) -> TaskInfo:
    containers = [
        ContainerInfo(
            name=str(c.get("name") or ""),
            image=str(c.get("image") or ""),
            last_status=str(c.get("lastStatus") or ""),
            exit_code=_exit_code(c.get("exitCode")),
            reason=str(c.get("reason") or ""),
            health_status=str(c.get("healthStatus") or ""),
            runtime_id=str(c.get("runtimeId") or ""),
        )
        for c in d.get("containers", []) or []
    ]
    return TaskInfo(
        arn=d["taskArn"],
        cluster_arn=str(d.get("clusterArn") or ""),
        container_instance_arn=str(d.get("containerInstanceArn") or ""),
        task_definition_arn=str(d.get("taskDefinitionArn") or ""),
        group=str(d.get("group") or ""),
        started_by=str(d.get("startedBy") or ""),
        last_status=str(d.get("lastStatus") or ""),
        desired_status=str(d.get("desiredStatus") or ""),
        health_status=str(d.get("healthStatus") or ""),
        launch_type=str(d.get("launchType") or ""),
        cpu=str(d.get("cpu") or ""),
        memory=str(d.get("memory") or ""),
        stopped_reason=str(d.get("stoppedReason") or ""),
        stop_code=str(d.get("stopCode") or ""),
        created_at=d.get("createdAt"),
        started_at=d.get("startedAt"),
        stopping_at=d.get("stoppingAt"),
        stopped_at=d.get("stoppedAt"),
        containers=containers,
        version=int(d.get("version") or 0),
    )
