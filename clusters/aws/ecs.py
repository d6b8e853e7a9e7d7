"""Read side of ECS: paginated listings and batched describes, as dataclasses.

Every call is the largest page / batch the API allows (ListX 100 per page,
DescribeTasks 100, DescribeContainerInstances 100, DescribeServices 10,
DescribeClusters 100), and each one is counted by operation in ``EcsReader.calls``.
The dataclasses it returns (and their parsers) are in ``ecs_types``.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from clusters.aws.budget import waited_ms
from clusters.aws.ecs_history_types import (
    ContainerImageInfo,
    ServiceDeploymentBrief,
    ServiceDeploymentInfo,
    ServiceRevisionInfo,
    _service_deployment,
    _service_deployment_brief,
    _service_revision,
)
from clusters.aws.ecs_types import (
    ClusterInfo,
    ContainerInfo,
    ContainerInstanceInfo,
    DeploymentInfo,
    ServiceEventInfo,
    ServiceInfo,
    TaskDefinitionInfo,
    TaskInfo,
    _cluster,
    _container_instance,
    _service,
    _task,
    _task_definition,
)
from clusters.aws.errors import aws_call_errors

__all__ = [
    "DESCRIBE_CLUSTERS_BATCH",
    "DESCRIBE_INSTANCES_BATCH",
    "DESCRIBE_SERVICES_BATCH",
    "DESCRIBE_SERVICE_DEPLOYMENTS_BATCH",
    "DESCRIBE_SERVICE_REVISIONS_BATCH",
    "DESCRIBE_TASKS_BATCH",
    "LIST_PAGE",
    "ClusterInfo",
    "ContainerImageInfo",
    "ContainerInfo",
    "ContainerInstanceInfo",
    "DeploymentInfo",
    "EcsReader",
    "ServiceDeploymentBrief",
    "ServiceDeploymentInfo",
    "ServiceEventInfo",
    "ServiceInfo",
    "ServiceRevisionInfo",
    "TaskDefinitionInfo",
    "TaskInfo",
    "batches",
]

LIST_PAGE = 100
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_INSTANCES_BATCH = 100
DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_CLUSTERS_BATCH = 100
# ListServiceDeployments pages up to 100 (default 20); its describes take 20 ARNs.
DESCRIBE_SERVICE_DEPLOYMENTS_BATCH = 20
DESCRIBE_SERVICE_REVISIONS_BATCH = 20


def batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


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

    @property
    def budget_wait_ms(self) -> int:
        """How long this reader's calls have waited for the account's API budget."""
        return waited_ms(self.client)

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

    def service_task_arns(
        self, cluster: str, service_name: str, desired_status: str = "RUNNING"
    ) -> list[str]:
        """One service's tasks (a targeted refresh; a full sync lists the cluster's)."""
        return self._list(
            "ListTasks",
            "taskArns",
            cluster=cluster,
            serviceName=service_name,
            desiredStatus=desired_status,
        )

    # --- describes (full batches) -----------------------------------------
    def clusters(self, arns: Sequence[str]) -> list[ClusterInfo]:
        out: list[ClusterInfo] = []
        for batch in batches(arns, DESCRIBE_CLUSTERS_BATCH):
            page = self._call("DescribeClusters", clusters=batch)
            out.extend(_cluster(d) for d in page.get("clusters", []) or [])
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

    # --- deployment history (service deployments and revisions) -----------
    def service_deployments(
        self,
        cluster: str,
        service: str,
        status: Sequence[str] | None = None,
        created_after: datetime | None = None,
    ) -> list[ServiceDeploymentBrief]:
        """Every page of ListServiceDeployments (newest first, as AWS lists them)."""
        args: dict[str, Any] = {"cluster": cluster, "service": service, "maxResults": LIST_PAGE}
        if status:
            args["status"] = list(status)
        if created_after is not None:
            args["createdAt"] = {"after": created_after}
        out: list[ServiceDeploymentBrief] = []
        while True:
            page = self._call("ListServiceDeployments", **args)
            out.extend(_service_deployment_brief(d) for d in page.get("serviceDeployments") or [])
            args["nextToken"] = page.get("nextToken")
            if not args["nextToken"]:
                return out

    def describe_service_deployments(
        self, arns: Sequence[str]
    ) -> tuple[list[ServiceDeploymentInfo], list[str]]:
        """Described service deployments, and the ARNs AWS reported as failures."""
        out: list[ServiceDeploymentInfo] = []
        missing: list[str] = []
        for page in self._batched(
            "DescribeServiceDeployments",
            arns,
            DESCRIBE_SERVICE_DEPLOYMENTS_BATCH,
            "serviceDeploymentArns",
        ):
            out.extend(_service_deployment(d) for d in page.get("serviceDeployments") or [])
            missing.extend(str(f.get("arn")) for f in page.get("failures") or [])
        return out, missing

    def describe_service_revisions(
        self, arns: Sequence[str]
    ) -> tuple[list[ServiceRevisionInfo], list[str]]:
        """Described revisions (immutable: describe each once), and the missing ARNs."""
        out: list[ServiceRevisionInfo] = []
        missing: list[str] = []
        for page in self._batched(
            "DescribeServiceRevisions",
            arns,
            DESCRIBE_SERVICE_REVISIONS_BATCH,
            "serviceRevisionArns",
        ):
            out.extend(_service_revision(d) for d in page.get("serviceRevisions") or [])
            missing.extend(str(f.get("arn")) for f in page.get("failures") or [])
        return out, missing


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
