"""Read side of ECS: paginated listings and batched describes, as dataclasses.

Every call is the largest page / batch the API allows (ListX 100 per page,
DescribeTasks 100, DescribeContainerInstances 100, DescribeServices 10,
DescribeClusters 100), and each one is counted by operation in ``EcsReader.calls``.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clusters.aws.errors import aws_call_errors

LIST_PAGE = 100
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_INSTANCES_BATCH = 100
DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_CLUSTERS_BATCH = 100


def batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


@dataclass(frozen=True)
class ClusterInfo:
    arn: str
    name: str
    status: str
    registered_instances_count: int
    running_tasks_count: int
    pending_tasks_count: int
    active_services_count: int


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


@dataclass(frozen=True)
class TaskDefinitionInfo:
    arn: str
    family: str
    revision: int
    status: str
    compatibilities: list[str]
    requires_compatibilities: list[str]
    network_mode: str
    cpu: str
    memory: str
    containers: list[dict[str, Any]]
    task_role_arn: str
    execution_role_arn: str
    registered_at: datetime | None


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
    )


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
    )


def _task_definition(d: dict[str, Any]) -> TaskDefinitionInfo:
    containers = [
        {
            "name": c.get("name", ""),
            "image": c.get("image", ""),
            "cpu": c.get("cpu", 0),
            "memory": c.get("memory"),
            "memoryReservation": c.get("memoryReservation"),
            "essential": c.get("essential", True),
            "portMappings": [
                {
                    "containerPort": p.get("containerPort"),
                    "hostPort": p.get("hostPort"),
                    "protocol": p.get("protocol", "tcp"),
                }
                for p in c.get("portMappings", []) or []
            ],
        }
        for c in d.get("containerDefinitions", []) or []
    ]
    return TaskDefinitionInfo(
        arn=d["taskDefinitionArn"],
        family=str(d.get("family") or ""),
        revision=int(d.get("revision") or 0),
        status=str(d.get("status") or ""),
        compatibilities=list(d.get("compatibilities") or []),
        requires_compatibilities=list(d.get("requiresCompatibilities") or []),
        network_mode=str(d.get("networkMode") or ""),
        cpu=str(d.get("cpu") or ""),
        memory=str(d.get("memory") or ""),
        containers=containers,
        task_role_arn=str(d.get("taskRoleArn") or ""),
        execution_role_arn=str(d.get("executionRoleArn") or ""),
        registered_at=d.get("registeredAt"),
    )


class EcsReader:
    """One region's ECS, read in full pages and batches; counts its calls.

    Batched describes run on a small thread pool: the calls are the same, but
    botocore's parsing of one response overlaps the server's work on the next.
    boto3 clients are thread-safe; the pool threads never touch the database.
    """

    CONCURRENCY = 4

    def __init__(self, client: Any, *, concurrency: int = CONCURRENCY) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency))
        # Idle pool threads go away with the reader (a worker builds one per sync).
        weakref.finalize(self, self._pool.shutdown, wait=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn`` on the reader's pool (for fetches that overlap each other)."""
        return self._pool.submit(fn, *args, **kwargs)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls[operation] += 1
        method = getattr(self.client, _snake(operation))
        with aws_call_errors():
            return method(**kwargs)  # type: ignore[no-any-return]

    def _batched(
        self, operation: str, items: Sequence[str], size: int, arg: str, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """One call per full batch, concurrently; pages come back in batch order."""
        chunks = list(batches(items, size))
        if len(chunks) <= 1:
            return [self._call(operation, **{arg: c}, **kwargs) for c in chunks]
        # Not self._pool: callers may already run on it, and waiting there could deadlock.
        with ThreadPoolExecutor(max_workers=self.CONCURRENCY) as pool:
            futures = [pool.submit(self._call, operation, **{arg: c}, **kwargs) for c in chunks]
            return [f.result() for f in futures]

    def tasks_stream(self, cluster: str, arns: Sequence[str]) -> list[Future[Any]]:
        """Start DescribeTasks for every batch; each future gives (tasks, missing)."""

        def one(batch: list[str]) -> tuple[list[TaskInfo], list[str]]:
            page = self._call("DescribeTasks", cluster=cluster, tasks=batch)
            return (
                [_task(d) for d in page.get("tasks", []) or []],
                [str(f.get("arn")) for f in page.get("failures", []) or []],
            )

        return [self._pool.submit(one, b) for b in batches(arns, DESCRIBE_TASKS_BATCH)]

    def _list(self, operation: str, key: str, **kwargs: Any) -> list[str]:
        out: list[str] = []
        token: str | None = None
        while True:
            args = {**kwargs, "maxResults": LIST_PAGE}
            if token:
                args["nextToken"] = token
            page = self._call(operation, **args)
            out.extend(page.get(key, []) or [])
            token = page.get("nextToken")
            if not token:
                return out

    # --- listings (complete, or they raise) --------------------------------
    def cluster_arns(self) -> list[str]:
        return self._list("ListClusters", "clusterArns")

    def container_instance_arns(self, cluster: str) -> list[str]:
        return self._list("ListContainerInstances", "containerInstanceArns", cluster=cluster)

    def service_arns(self, cluster: str) -> list[str]:
        return self._list("ListServices", "serviceArns", cluster=cluster)

    def task_arns(self, cluster: str, desired_status: str = "RUNNING") -> list[str]:
        return self._list("ListTasks", "taskArns", cluster=cluster, desiredStatus=desired_status)

    # --- describes (full batches) -----------------------------------------
    def clusters(self, arns: Sequence[str]) -> list[ClusterInfo]:
        out: list[ClusterInfo] = []
        for batch in batches(arns, DESCRIBE_CLUSTERS_BATCH):
            page = self._call("DescribeClusters", clusters=batch)
            for d in page.get("clusters", []) or []:
                out.append(
                    ClusterInfo(
                        arn=d["clusterArn"],
                        name=str(d.get("clusterName") or ""),
                        status=str(d.get("status") or ""),
                        registered_instances_count=int(
                            d.get("registeredContainerInstancesCount") or 0
                        ),
                        running_tasks_count=int(d.get("runningTasksCount") or 0),
                        pending_tasks_count=int(d.get("pendingTasksCount") or 0),
                        active_services_count=int(d.get("activeServicesCount") or 0),
                    )
                )
        return out

    def container_instances(
        self, cluster: str, arns: Sequence[str]
    ) -> tuple[list[ContainerInstanceInfo], list[str]]:
        """Described instances, and the ARNs AWS reported as failures (MISSING)."""
        out: list[ContainerInstanceInfo] = []
        missing: list[str] = []
        for page in self._batched(
            "DescribeContainerInstances",
            arns,
            DESCRIBE_INSTANCES_BATCH,
            "containerInstances",
            cluster=cluster,
            include=["TAGS"],
        ):
            out.extend(_container_instance(d) for d in page.get("containerInstances", []) or [])
            missing.extend(str(f.get("arn")) for f in page.get("failures", []) or [])
        return out, missing

    def services(self, cluster: str, arns: Sequence[str]) -> list[ServiceInfo]:
        out: list[ServiceInfo] = []
        for page in self._batched(
            "DescribeServices", arns, DESCRIBE_SERVICES_BATCH, "services", cluster=cluster
        ):
            out.extend(_service(d) for d in page.get("services", []) or [])
        return out

    def tasks(self, cluster: str, arns: Sequence[str]) -> tuple[list[TaskInfo], list[str]]:
        """Described tasks, and the ARNs AWS reported as failures (MISSING)."""
        out: list[TaskInfo] = []
        missing: list[str] = []
        for page in self._batched(
            "DescribeTasks", arns, DESCRIBE_TASKS_BATCH, "tasks", cluster=cluster
        ):
            out.extend(_task(d) for d in page.get("tasks", []) or [])
            missing.extend(str(f.get("arn")) for f in page.get("failures", []) or [])
        return out, missing

    def task_definition(self, arn: str) -> TaskDefinitionInfo:
        """DescribeTaskDefinition takes one ARN; definitions are immutable, so each is
        described once in its lifetime."""
        page = self._call("DescribeTaskDefinition", taskDefinition=arn)
        return _task_definition(page["taskDefinition"])


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
