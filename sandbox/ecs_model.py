"""The sandbox's own ECS objects: tasks, container instances, services.

moto 5.2.5's Task drifts to STOPPED as it is described, its ContainerInstance
needs an EC2 instance (so no ``mi-`` ids) and its Service has one fake
deployment and no events. These classes replace them inside moto's own backend
dicts (``backend.tasks``, ``backend.container_instances``, ``backend.services``)
so moto's tagging and attribute code keeps working on them, and each renders
itself as the ECS API reference's JSON shape.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition

from sandbox.state import CLOCK

T = TypeVar("T")

# Newest-first service events are capped at 100 like the DescribeServices docs say.
MAX_EVENTS = 100


def new_id() -> str:
    """ECS task and container-instance ids are 32 lowercase hex characters."""
    return uuid.uuid4().hex


def deployment_id() -> str:
    """ECS deployment ids look like ``ecs-svc/`` followed by 19 digits."""
    return "ecs-svc/" + "".join(random.choice("0123456789") for _ in range(19))


def task_requirements(td: TaskDefinition) -> dict[str, Any]:
    """CPU units, MiB and host ports a task of ``td`` reserves on an instance.

    Task-level cpu/memory win when set (as ECS does); otherwise the containers'
    cpu plus memory (hard limit) or memoryReservation.
    """
    cpu = 0
    mem = 0
    ports: list[int] = []
    container_definitions: list[dict[str, Any]] = td.container_definitions
    for c in container_definitions:
        cpu += int(c.get("cpu") or 0)
        mem += int(c.get("memory") or c.get("memoryReservation") or 0)
        for pm in c.get("portMappings") or []:
            if pm.get("hostPort"):
                ports.append(int(pm["hostPort"]))
    if td.cpu:
        cpu = int(td.cpu)
    if td.memory:
        mem = int(td.memory)
    return {"CPU": cpu, "MEMORY": mem, "PORTS": ports}


@dataclass(eq=False)
class SandboxContainerInstance:
    cluster_name: str
    cluster_arn: str
    region_name: str
    account_id: str
    ec2_instance_id: str
    cpu: int
    memory: int
    attributes: dict[str, str | None]
    external: bool
    id: str = field(default_factory=new_id)
    status: str = "ACTIVE"
    status_reason: str | None = None
    agent_connected: bool = True
    agent_version: str = "1.89.1"
    docker_version: str = "DockerVersion: 25.0.8"
    tags: list[dict[str, str]] = field(default_factory=list)
    registered_at: float = field(default_factory=CLOCK.timestamp)
    version: int = 1
    capacity_provider_name: str | None = None

    @property
    def container_instance_arn(self) -> str:
        return (
            f"arn:aws:ecs:{self.region_name}:{self.account_id}:container-instance/"
            f"{self.cluster_name}/{self.id}"
        )

    # moto's code reads these names.
    @property
    def arn(self) -> str:
        return self.container_instance_arn


@dataclass(eq=False)
class SandboxTask:
    cluster_name: str
    cluster_arn: str
    region_name: str
    account_id: str
    task_definition: TaskDefinition
    container_instance_arn: str | None
    launch_type: str
    group: str
    started_by: str = ""
    id: str = field(default_factory=new_id)
    desired_status: str = "RUNNING"
    last_status: str = "PENDING"
    created_at: float = field(default_factory=CLOCK.timestamp)
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    containers: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1
    # Where the Docker-backed agent started the real containers, if any.
    docker_url: str | None = None
    docker_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.requirements = task_requirements(self.task_definition)
        if not self.containers:
            for c in self.task_definition.container_definitions:
                self.containers.append(
                    {
                        "containerArn": (
                            f"arn:aws:ecs:{self.region_name}:{self.account_id}:container/"
                            f"{self.cluster_name}/{self.id}/{uuid.uuid4()}"
                        ),
                        "name": c.get("name"),
                        "image": c.get("image"),
                        "lastStatus": "PENDING",
                        "healthStatus": "UNKNOWN",
                        "cpu": str(c.get("cpu") or 0),
                        "memory": str(c["memory"]) if c.get("memory") else None,
                        "essential": c.get("essential", True),
                    }
                )

    @property
    def task_arn(self) -> str:
        return (
            f"arn:aws:ecs:{self.region_name}:{self.account_id}:task/{self.cluster_name}/{self.id}"
        )

    @property
    def task_definition_arn(self) -> str:
        return str(self.task_definition.arn)

    @property
    def live(self) -> bool:
        """Counts toward a service: wanted running and not yet stopped."""
        return self.desired_status == "RUNNING" and self.last_status != "STOPPED"

    def mark_running(self) -> None:
        now = CLOCK.timestamp()
        self.pull_started_at = self.pull_started_at or now
        self.pull_stopped_at = self.pull_stopped_at or now
        self.started_at = now
        self.last_status = "RUNNING"
        self.version += 1
        for c in self.containers:
            c["lastStatus"] = "RUNNING"
            c["runtimeId"] = c.get("runtimeId") or uuid.uuid4().hex + uuid.uuid4().hex

    def request_stop(self, stop_code: str, reason: str) -> None:
        """desiredStatus STOPPED; the next scheduler step takes it to STOPPED."""
        if self.desired_status == "STOPPED":
            return
        self.desired_status = "STOPPED"
        self.stop_code = stop_code
        self.stopped_reason = reason
        self.stopping_at = CLOCK.timestamp()
        self.version += 1

    def mark_stopped(
        self,
        stop_code: str | None = None,
        reason: str | None = None,
        exit_code: int | None = 0,
        container_reason: str | None = None,
    ) -> None:
        now = CLOCK.timestamp()
        self.desired_status = "STOPPED"
        self.last_status = "STOPPED"
        self.stop_code = stop_code or self.stop_code
        self.stopped_reason = reason or self.stopped_reason
        self.stopping_at = self.stopping_at or now
        self.stopped_at = now
        self.version += 1
        for c in self.containers:
            c["lastStatus"] = "STOPPED"
            if "exitCode" not in c:
                c["exitCode"] = exit_code
            if container_reason and "reason" not in c:
                c["reason"] = container_reason

    def render(self, include_tags: bool = False) -> dict[str, Any]:
        td = self.task_definition
        out: dict[str, Any] = {
            "taskArn": self.task_arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "lastStatus": self.last_status,
            "desiredStatus": self.desired_status,
            "launchType": self.launch_type,
            "group": self.group,
            "version": self.version,
            "createdAt": self.created_at,
            "cpu": str(self.requirements["CPU"]),
            "memory": str(self.requirements["MEMORY"]),
            "healthStatus": "UNKNOWN",
            "connectivity": "CONNECTED",
            "connectivityAt": self.created_at,
            "availabilityZone": f"{self.region_name}a",
            "overrides": self.overrides
            or {"containerOverrides": [], "inferenceAcceleratorOverrides": []},
            "attachments": [],
            "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
            "containers": [
                {k: v for k, v in {**c, "taskArn": self.task_arn}.items() if v is not None}
                for c in self.containers
            ],
            "enableExecuteCommand": False,
        }
        if self.container_instance_arn:
            out["containerInstanceArn"] = self.container_instance_arn
        if self.started_by:
            out["startedBy"] = self.started_by
        for key, value in (
            ("pullStartedAt", self.pull_started_at),
            ("pullStoppedAt", self.pull_stopped_at),
            ("startedAt", self.started_at),
            ("stoppingAt", self.stopping_at),
            ("stoppedAt", self.stopped_at),
            ("executionStoppedAt", self.stopped_at),
            ("stopCode", self.stop_code),
            ("stoppedReason", self.stopped_reason),
        ):
            if value is not None:
                out[key] = value
        if td.network_mode == "awsvpc":
            out["attachments"] = []
        if include_tags:
            out["tags"] = self.tags
        return out


@dataclass
class Deployment:
    id: str
    task_definition: TaskDefinition
    desired_count: int
    launch_type: str
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    created_at: float = field(default_factory=CLOCK.timestamp)
    updated_at: float = field(default_factory=CLOCK.timestamp)
    running_count: int = 0
    pending_count: int = 0
    # A rollback deployment remembers it is one (for the rolloutStateReason).
    rollback_of: str | None = None
    # ECS returns a service's Service Connect configuration on each deployment, not on
    # the service (botocore's Deployment shape): each deployment keeps the one it ran.
    service_connect_configuration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.rollout_state_reason:
            self.rollout_state_reason = f"ECS deployment {self.id} in progress."

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition.arn,
            "desiredCount": self.desired_count,
            "pendingCount": self.pending_count,
            "runningCount": self.running_count,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": self.launch_type,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
            **(
                {"serviceConnectConfiguration": self.service_connect_configuration}
                if self.service_connect_configuration
                else {}
            ),
        }


@dataclass(eq=False)
class SandboxService:
    cluster_name: str
    cluster_arn: str
    region_name: str
    account_id: str
    name: str
    desired_count: int
    launch_type: str
    deployment_configuration: dict[str, Any]
    deployments: list[Deployment]
    status: str = "ACTIVE"
    tags: list[dict[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = field(default_factory=CLOCK.timestamp)
    placement_constraints: list[dict[str, Any]] = field(default_factory=list)
    placement_strategy: list[dict[str, Any]] = field(default_factory=list)
    network_configuration: dict[str, Any] | None = None
    scheduling_strategy: str = "REPLICA"
    propagate_tags: str = "NONE"
    enable_ecs_managed_tags: bool = False
    running_count: int = 0
    pending_count: int = 0
    steady: bool = False
    role_arn: str | None = None
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    service_registries: list[dict[str, Any]] = field(default_factory=list)
    capacity_provider_strategy: list[dict[str, Any]] = field(default_factory=list)
    # What the next deployment will carry (ECS: CreateService/UpdateService parameter).
    service_connect_configuration: dict[str, Any] | None = None

    @property
    def arn(self) -> str:
        prefix = f"arn:aws:ecs:{self.region_name}:{self.account_id}"
        return f"{prefix}:service/{self.cluster_name}/{self.name}"

    # moto's tagging code calls these.
    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]

    @property
    def task_definition(self) -> str:
        return str(self.primary.task_definition.arn)

    def circuit_breaker(self) -> tuple[bool, bool]:
        cb = self.deployment_configuration.get("deploymentCircuitBreaker") or {}
        return bool(cb.get("enable")), bool(cb.get("rollback"))

    def failure_threshold(self) -> int:
        """ECS: 0.5 x desiredCount, at least 3 and at most 200 failed tasks."""
        return max(3, min(200, math.ceil(self.desired_count * 0.5)))

    def add_event(self, message: str) -> None:
        self.events.insert(
            0, {"id": str(uuid.uuid4()), "createdAt": CLOCK.timestamp(), "message": message}
        )
        del self.events[MAX_EVENTS:]

    def render(self, include_tags: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceArn": self.arn,
            "serviceName": self.name,
            "clusterArn": self.cluster_arn,
            "status": self.status,
            "desiredCount": self.desired_count,
            "runningCount": self.running_count,
            "pendingCount": self.pending_count,
            "launchType": self.launch_type,
            "taskDefinition": self.task_definition,
            "deploymentConfiguration": self.deployment_configuration,
            "deployments": [d.render() for d in self.deployments],
            "events": list(self.events),
            "createdAt": self.created_at,
            "placementConstraints": self.placement_constraints,
            "placementStrategy": self.placement_strategy,
            "schedulingStrategy": self.scheduling_strategy,
            "deploymentController": {"type": "ECS"},
            "loadBalancers": self.load_balancers,
            "serviceRegistries": self.service_registries,
            "propagateTags": self.propagate_tags,
            "enableECSManagedTags": self.enable_ecs_managed_tags,
            "enableExecuteCommand": False,
            "createdBy": f"arn:aws:iam::{self.account_id}:role/admin",
        }
        if self.network_configuration:
            out["networkConfiguration"] = self.network_configuration
        if self.role_arn:
            out["roleArn"] = self.role_arn
        if self.capacity_provider_strategy:
            out["capacityProviderStrategy"] = self.capacity_provider_strategy
        if include_tags:
            out["tags"] = self.tags
        return out


def only(values: Iterable[Any], cls: type[T]) -> list[T]:
    """The sandbox's own objects among the values of one of moto's dicts."""
    return [v for v in values if isinstance(v, cls)]


def all_tasks(backend: EC2ContainerServiceBackend) -> list[SandboxTask]:
    return only((t for tasks in backend.tasks.values() for t in tasks.values()), SandboxTask)


def cluster_tasks(backend: EC2ContainerServiceBackend, cluster: str) -> list[SandboxTask]:
    return only(backend.tasks.get(cluster, {}).values(), SandboxTask)


def all_instances(backend: EC2ContainerServiceBackend) -> list[SandboxContainerInstance]:
    return only(
        (ci for cis in backend.container_instances.values() for ci in cis.values()),
        SandboxContainerInstance,
    )


def cluster_instances(
    backend: EC2ContainerServiceBackend, cluster: str
) -> list[SandboxContainerInstance]:
    return only(backend.container_instances.get(cluster, {}).values(), SandboxContainerInstance)


def all_services(backend: EC2ContainerServiceBackend) -> list[SandboxService]:
    return only(backend.services.values(), SandboxService)


def instance_usage(
    backend: EC2ContainerServiceBackend, ci: SandboxContainerInstance
) -> tuple[int, int, list[int], int, int]:
    """(cpu, memory, ports, running, pending) used by tasks not yet STOPPED."""
    cpu = mem = running = pending = 0
    ports: list[int] = []
    arn = ci.container_instance_arn
    for t in cluster_tasks(backend, ci.cluster_name):
        if t.container_instance_arn != arn or t.last_status == "STOPPED":
            continue
        cpu += t.requirements["CPU"]
        mem += t.requirements["MEMORY"]
        ports.extend(t.requirements["PORTS"])
        if t.last_status == "RUNNING":
            running += 1
        else:
            pending += 1
    return cpu, mem, ports, running, pending


def _resources(cpu: int, mem: int, ports: list[int]) -> list[dict[str, Any]]:
    base_ports = ["22", "2376", "2375", "51678", "51679"]
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu, "doubleValue": 0.0, "longValue": 0},
        {
            "name": "MEMORY",
            "type": "INTEGER",
            "integerValue": mem,
            "doubleValue": 0.0,
            "longValue": 0,
        },
        {
            "name": "PORTS",
            "type": "STRINGSET",
            "stringSetValue": base_ports + [str(p) for p in ports],
            "doubleValue": 0.0,
            "integerValue": 0,
            "longValue": 0,
        },
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            "stringSetValue": [],
            "doubleValue": 0.0,
            "integerValue": 0,
            "longValue": 0,
        },
    ]


def remaining(
    backend: EC2ContainerServiceBackend, ci: SandboxContainerInstance
) -> tuple[int, int, list[int]]:
    cpu, mem, ports, _, _ = instance_usage(backend, ci)
    return ci.cpu - cpu, ci.memory - mem, ports


def render_container_instance(
    backend: EC2ContainerServiceBackend, ci: SandboxContainerInstance, include_tags: bool = False
) -> dict[str, Any]:
    cpu, mem, ports, running, pending = instance_usage(backend, ci)
    out: dict[str, Any] = {
        "containerInstanceArn": ci.container_instance_arn,
        "ec2InstanceId": ci.ec2_instance_id,
        "version": ci.version,
        "versionInfo": {
            "agentVersion": ci.agent_version,
            "agentHash": "4c2e2a5f",
            "dockerVersion": ci.docker_version,
        },
        "registeredResources": _resources(ci.cpu, ci.memory, []),
        "remainingResources": _resources(ci.cpu - cpu, ci.memory - mem, ports),
        "status": ci.status,
        "agentConnected": ci.agent_connected,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "attributes": [
            {"name": k, "value": v} if v is not None else {"name": k}
            for k, v in ci.attributes.items()
        ],
        "registeredAt": ci.registered_at,
        "attachments": [],
    }
    if ci.status_reason:
        out["statusReason"] = ci.status_reason
    if ci.capacity_provider_name:
        out["capacityProviderName"] = ci.capacity_provider_name
    if include_tags:
        out["tags"] = ci.tags
    return out


def docker_attributes(external: bool, os_type: str = "linux") -> dict[str, str | None]:
    """The attributes an ECS agent (1.89) reports for a Docker host."""
    attrs: dict[str, str | None] = {
        "ecs.capability.secrets.asm.environment-variables": None,
        "ecs.capability.execution-role-awslogs": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.17": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.18": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.19": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.20": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.21": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.22": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.23": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.24": None,
        "com.amazonaws.ecs.capability.docker-remote-api.1.25": None,
        "com.amazonaws.ecs.capability.logging-driver.awslogs": None,
        "com.amazonaws.ecs.capability.logging-driver.json-file": None,
        "com.amazonaws.ecs.capability.logging-driver.syslog": None,
        "com.amazonaws.ecs.capability.logging-driver.none": None,
        "com.amazonaws.ecs.capability.task-iam-role": None,
        "com.amazonaws.ecs.capability.task-iam-role-network-host": None,
        "ecs.capability.task-eni": None,
        "ecs.capability.container-health-check": None,
        "ecs.capability.env-files.s3": None,
        "ecs.capability.execution-role-ecr-pull": None,
        "ecs.os-type": os_type,
        "ecs.os-family": "LINUX",
        "ecs.cpu-architecture": "x86_64",
    }
    if external:
        attrs["ecs.capability.external"] = None
    return attrs
