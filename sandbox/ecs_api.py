"""Patches moto's ECS response and backend classes in place.

moto's URL map is bound to ``EC2ContainerServiceResponse.dispatch``, so a
subclass would never be called; instead the handlers the console relies on are
replaced on the class itself and answer with JSON shaped like the ECS API
reference, backed by the objects in :mod:`sandbox.ecs_model`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ecs.exceptions import ServiceNotFoundException
from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition
from moto.ecs.responses import EC2ContainerServiceResponse

from sandbox import scheduler
from sandbox.ecs_model import (
    Deployment,
    SandboxContainerInstance,
    SandboxService,
    SandboxTask,
    all_tasks,
    cluster_instances,
    cluster_tasks,
    deployment_id,
    docker_attributes,
    render_container_instance,
)
from sandbox.paging import InvalidParameterException, check_batch, paginate
from sandbox.state import CLOCK, SETTINGS

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


class ClientException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ClientException", message)


JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def _json(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return json.dumps(body), dict(JSON_HEADERS)


def _cluster(backend: EC2ContainerServiceBackend, name: str | None) -> Any:
    return backend._get_cluster(name or "default")


def visible(task: SandboxTask) -> bool:
    """AWS forgets a stopped task about an hour (``forget_after``) after it stops."""
    if task.last_status != "STOPPED" or task.stopped_at is None:
        return True
    return CLOCK.timestamp() - task.stopped_at < SETTINGS.forget_after


def find_task(backend: EC2ContainerServiceBackend, cluster: str, ref: str) -> SandboxTask | None:
    task_id = ref.rsplit("/", 1)[-1]
    for t in cluster_tasks(backend, cluster):
        if t.id == task_id and visible(t):
            return t
    return None


def find_instance(
    backend: EC2ContainerServiceBackend, cluster: str, ref: str
) -> SandboxContainerInstance | None:
    ci = backend.container_instances.get(cluster, {}).get(ref.rsplit("/", 1)[-1])
    return ci if isinstance(ci, SandboxContainerInstance) else None


def find_service(
    backend: EC2ContainerServiceBackend, cluster: str, ref: str
) -> SandboxService | None:
    svc = backend.services.get(f"{cluster}:{ref.rsplit('/', 1)[-1]}")
    return svc if isinstance(svc, SandboxService) else None


def _arn_for(backend: EC2ContainerServiceBackend, kind: str, cluster: str, ref: str) -> str:
    if ref.startswith("arn:"):
        return ref
    return f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:{kind}/{cluster}/{ref}"


# --- task definitions ------------------------------------------------------

_original_td_init = TaskDefinition.__init__


def _td_init(self: TaskDefinition, *args: Any, **kwargs: Any) -> None:
    """Keep EXTERNAL task definitions' network mode (moto forces awsvpc)."""
    _original_td_init(self, *args, **kwargs)
    requires = kwargs.get("requires_compatibilities") or []
    if "EXTERNAL" in requires:
        mode = kwargs.get("network_mode") or "bridge"
        if mode == "awsvpc" and "FARGATE" not in requires:
            # ECS Anywhere has no awsvpc; AWS rejects it at registration.
            raise ClientException(
                "Tasks using the EXTERNAL launch type do not support the awsvpc network mode."
            )
        self.network_mode = mode
        self.compatibilities = ["EC2", "EXTERNAL"] + (["FARGATE"] if "FARGATE" in requires else [])
    self.registered_at = CLOCK.timestamp()  # type: ignore[attr-defined]


def list_task_definitions(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    arns = self.ecs_backend.list_task_definitions(
        self._get_param("familyPrefix"), self._get_param("status", "ACTIVE")
    )
    if self._get_param("sort") == "DESC":
        arns = list(reversed(arns))
    page, token = paginate(
        arns, self._get_param("nextToken"), self._get_param("maxResults"), default=100, maximum=100
    )
    return _json({"taskDefinitionArns": page, **({"nextToken": token} if token else {})})


# --- clusters ----------------------------------------------------------------


def list_clusters(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    arns = self.ecs_backend.list_clusters()
    page, token = paginate(
        arns, self._get_param("nextToken"), self._get_param("maxResults"), default=100, maximum=100
    )
    return _json({"clusterArns": page, **({"nextToken": token} if token else {})})


def refresh_cluster_counts(backend: EC2ContainerServiceBackend) -> None:
    for cluster in backend.clusters.values():
        tasks = [t for t in cluster_tasks(backend, cluster.name) if t.last_status != "STOPPED"]
        cluster.running_tasks_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        cluster.pending_tasks_count = sum(1 for t in tasks if t.last_status != "RUNNING")
        cluster.registered_container_instances_count = sum(
            1
            for ci in backend.container_instances.get(cluster.name, {}).values()
            if getattr(ci, "status", "") in ("ACTIVE", "DRAINING")
        )
        cluster.active_services_count = sum(
            1
            for s in backend.services.values()
            if s.cluster_name == cluster.name and s.status == "ACTIVE"
        )


_original_describe_clusters = EC2ContainerServiceResponse.describe_clusters


def describe_clusters(self: EC2ContainerServiceResponse) -> Any:
    refresh_cluster_counts(self.ecs_backend)
    return _original_describe_clusters(self)


# --- tasks -------------------------------------------------------------------


def _include_tags(self: EC2ContainerServiceResponse) -> bool:
    return "TAGS" in (self._get_param("include") or [])


def run_task(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    td = backend.describe_task_definition(self._get_param("taskDefinition"))
    count = int(self._get_param("count") or 1)
    if not 1 <= count <= 10:
        raise InvalidParameterException("count must be between 1 and 10.")
    launch_type = self._get_param("launchType") or "EC2"
    if launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type not in td.compatibilities:
        raise ClientException(f"Task definition does not support launch_type {launch_type}.")
    group = self._get_param("group") or f"family:{td.family}"
    tasks, failures = [], []
    for _ in range(count):
        task, reason, where = scheduler.start_task(
            backend,
            cluster,
            td,
            launch_type,
            group=group,
            started_by=self._get_param("startedBy") or "",
            tags=self._get_param("tags") or [],
            overrides=self._get_param("overrides") or {},
        )
        if task:
            tasks.append(task.render())
        else:
            failures.append({"arn": where or cluster.arn, "reason": reason})
    return _json({"tasks": tasks, "failures": failures})


def start_task(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    td = backend.describe_task_definition(self._get_param("taskDefinition"))
    tasks, failures = [], []
    for ref in self._get_param("containerInstances") or []:
        ci = find_instance(backend, cluster.name, ref)
        if ci is None:
            failures.append(
                {
                    "arn": _arn_for(backend, "container-instance", cluster.name, ref),
                    "reason": "MISSING",
                }
            )
            continue
        task = scheduler.create_task(
            backend,
            cluster,
            td,
            ci,
            "EXTERNAL" if ci.external else "EC2",
            group=self._get_param("group") or f"family:{td.family}",
            started_by=self._get_param("startedBy") or "",
            tags=self._get_param("tags") or [],
        )
        tasks.append(task.render())
    return _json({"tasks": tasks, "failures": failures})


def describe_tasks(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    refs = self._get_param("tasks") or []
    if not refs:
        raise InvalidParameterException("Tasks cannot be empty.")
    check_batch(refs, 100, "tasks")
    tasks, failures = [], []
    include_tags = _include_tags(self)
    for ref in refs:
        t = find_task(backend, cluster.name, ref)
        if t is None:
            failures.append(
                {"arn": _arn_for(backend, "task", cluster.name, ref), "reason": "MISSING"}
            )
        else:
            tasks.append(t.render(include_tags))
    return _json({"tasks": tasks, "failures": failures})


def list_tasks(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    # AWS filters on desiredStatus RUNNING unless told otherwise.
    desired = self._get_param("desiredStatus") or "RUNNING"
    service_name = self._get_param("serviceName")
    family = self._get_param("family")
    started_by = self._get_param("startedBy")
    launch_type = self._get_param("launchType")
    ci_ref = self._get_param("containerInstance")
    if service_name and find_service(backend, cluster.name, service_name) is None:
        raise ServiceNotFoundException()
    ci_id = ci_ref.rsplit("/", 1)[-1] if ci_ref else None
    arns = []
    for t in sorted(cluster_tasks(backend, cluster.name), key=lambda t: (t.created_at, t.id)):
        if not visible(t) or t.desired_status != desired:
            continue
        if service_name and t.group != f"service:{service_name.rsplit('/', 1)[-1]}":
            continue
        if family and t.task_definition.family != family:
            continue
        if started_by and t.started_by != started_by:
            continue
        if launch_type and t.launch_type != launch_type:
            continue
        if ci_id and (t.container_instance_arn or "").rsplit("/", 1)[-1] != ci_id:
            continue
        arns.append(t.task_arn)
    page, token = paginate(
        arns, self._get_param("nextToken"), self._get_param("maxResults"), default=100, maximum=100
    )
    return _json({"taskArns": page, **({"nextToken": token} if token else {})})


def stop_task(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    ref = self._get_param("task")
    t = find_task(backend, cluster.name, ref or "")
    if t is None:
        raise InvalidParameterException("The referenced task was not found.")
    t.request_stop("UserInitiated", self._get_param("reason") or "Task stopped by user")
    return _json({"task": t.render()})


# --- services ----------------------------------------------------------------


def create_service(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    name = self._get_param("serviceName")
    existing = find_service(backend, cluster.name, name)
    if existing is not None and existing.status != "INACTIVE":
        raise InvalidParameterException("Creation of service was not idempotent.")
    td = backend.describe_task_definition(self._get_param("taskDefinition"))
    launch_type = self._get_param("launchType") or "EC2"
    if launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type not in td.compatibilities:
        raise InvalidParameterException(
            f"Task definition does not support launch_type {launch_type}."
        )
    desired = int(self._get_param("desiredCount") or 0)
    config = json.loads(json.dumps(DEFAULT_DEPLOYMENT_CONFIGURATION))
    config.update(self._get_param("deploymentConfiguration") or {})
    svc = SandboxService(
        cluster_name=cluster.name,
        cluster_arn=cluster.arn,
        region_name=backend.region_name,
        account_id=backend.account_id,
        name=name,
        desired_count=desired,
        launch_type=launch_type,
        deployment_configuration=config,
        deployments=[Deployment(deployment_id(), td, desired, launch_type)],
        tags=self._get_param("tags") or [],
        placement_constraints=self._get_param("placementConstraints") or [],
        placement_strategy=self._get_param("placementStrategy") or [],
        network_configuration=self._get_param("networkConfiguration"),
        scheduling_strategy=self._get_param("schedulingStrategy") or "REPLICA",
        propagate_tags=self._get_param("propagateTags") or "NONE",
        enable_ecs_managed_tags=bool(self._get_param("enableECSManagedTags")),
        role_arn=self._get_param("role"),
    )
    _networking_set(self, svc)
    svc.primary.service_connect_configuration = svc.service_connect_configuration
    backend.services[f"{cluster.name}:{name}"] = svc  # type: ignore[assignment]
    return _json({"service": svc.render()})


def _networking_set(self: EC2ContainerServiceResponse, svc: SandboxService) -> bool:
    """Load balancers, service registries, capacity providers and Service Connect, as
    CreateService/UpdateService take them; ECS accepts them for EXTERNAL services too
    (which then get no traffic). True when Service Connect changed: ECS rolls out a new
    deployment for that."""
    for key, attr in (
        ("loadBalancers", "load_balancers"),
        ("serviceRegistries", "service_registries"),
        ("capacityProviderStrategy", "capacity_provider_strategy"),
    ):
        if self._get_param(key) is not None:
            setattr(svc, attr, self._get_param(key))
    connect = self._get_param("serviceConnectConfiguration")
    if connect is None or connect == svc.service_connect_configuration:
        return False
    svc.service_connect_configuration = connect
    return True


def list_services(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    launch_type = self._get_param("launchType")
    strategy = self._get_param("schedulingStrategy")
    arns = sorted(
        s.arn
        for s in backend.services.values()
        if isinstance(s, SandboxService)
        and s.cluster_name == cluster.name
        and s.status != "INACTIVE"
        and (not launch_type or s.launch_type == launch_type)
        and (not strategy or s.scheduling_strategy == strategy)
    )
    page, token = paginate(
        arns, self._get_param("nextToken"), self._get_param("maxResults"), default=10, maximum=100
    )
    return _json({"serviceArns": page, **({"nextToken": token} if token else {})})


def describe_services(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    refs = self._get_param("services") or []
    check_batch(refs, 10, "services")
    include_tags = _include_tags(self)
    services, failures = [], []
    for ref in refs:
        svc = find_service(backend, cluster.name, ref)
        if svc is None:
            failures.append(
                {"arn": _arn_for(backend, "service", cluster.name, ref), "reason": "MISSING"}
            )
        else:
            services.append(svc.render(include_tags))
    return _json({"services": services, "failures": failures})


def update_service(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    svc = find_service(backend, cluster.name, self._get_param("service") or "")
    if svc is None or svc.status == "INACTIVE":
        raise ServiceNotFoundException()
    if svc.status == "DRAINING":
        raise JsonRESTError("ServiceNotActiveException", "Service was not ACTIVE.")
    desired = self._get_param("desiredCount")
    if desired is not None:
        svc.desired_count = int(desired)
    config = self._get_param("deploymentConfiguration")
    if config:
        svc.deployment_configuration.update(config)
    for key, attr in (
        ("placementConstraints", "placement_constraints"),
        ("placementStrategy", "placement_strategy"),
        ("networkConfiguration", "network_configuration"),
    ):
        if self._get_param(key) is not None:
            setattr(svc, attr, self._get_param(key))
    connect_changed = _networking_set(self, svc)
    td_ref = self._get_param("taskDefinition")
    td = backend.describe_task_definition(td_ref) if td_ref else svc.primary.task_definition
    if (
        td.arn != svc.primary.task_definition.arn
        or self._get_param("forceNewDeployment")
        or connect_changed
    ):
        scheduler.new_deployment(svc, td)
    else:
        svc.primary.desired_count = svc.desired_count
        svc.primary.updated_at = CLOCK.timestamp()
    svc.steady = False
    return _json({"service": svc.render()})


def delete_service(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    svc = find_service(backend, cluster.name, self._get_param("service") or "")
    if svc is None or svc.status == "INACTIVE":
        raise ServiceNotFoundException()
    if svc.desired_count > 0 and not self._get_param("force"):
        raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
    svc.desired_count = 0
    svc.status = "DRAINING"
    return _json({"service": svc.render()})


# --- container instances -----------------------------------------------------


def register_container_instance(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    """The EC2 agent's registration call (external instances go through SSM first)."""
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    doc = json.loads(self._get_param("instanceIdentityDocument") or "{}")
    instance_id = doc.get("instanceId") or self._get_param("ec2InstanceId")
    if not instance_id:
        raise ClientException("instanceIdentityDocument is required.")
    cpu, mem = 2048, 3904
    for r in self._get_param("totalResources") or []:
        if r.get("name") == "CPU":
            cpu = int(r.get("integerValue") or cpu)
        if r.get("name") == "MEMORY":
            mem = int(r.get("integerValue") or mem)
    ci = register_instance(
        backend,
        cluster.name,
        instance_id,
        cpu=cpu,
        memory=mem,
        extra_attributes={a["name"]: a.get("value") for a in self._get_param("attributes") or []},
        tags=self._get_param("tags") or [],
    )
    return _json({"containerInstance": render_container_instance(backend, ci)})


def register_instance(
    backend: EC2ContainerServiceBackend,
    cluster_name: str,
    instance_id: str,
    *,
    cpu: int,
    memory: int,
    extra_attributes: dict[str, str | None] | None = None,
    tags: list[dict[str, str]] | None = None,
) -> SandboxContainerInstance:
    cluster = _cluster(backend, cluster_name)
    external = instance_id.startswith("mi-")
    attrs = docker_attributes(external)
    if not external:
        attrs.update(
            {
                "ecs.ami-id": "ami-0fe5f366c083f59ca",
                "ecs.availability-zone": f"{backend.region_name}a",
                "ecs.instance-type": "t3.medium",
            }
        )
    attrs.update(extra_attributes or {})
    ci = SandboxContainerInstance(
        cluster_name=cluster.name,
        cluster_arn=cluster.arn,
        region_name=backend.region_name,
        account_id=backend.account_id,
        ec2_instance_id=instance_id,
        cpu=cpu,
        memory=memory,
        attributes=attrs,
        external=external,
        tags=tags or [],
    )
    backend.container_instances.setdefault(cluster.name, {})[ci.id] = ci  # type: ignore[assignment]
    return ci


def deregister_container_instance(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    ci = find_instance(backend, cluster.name, self._get_param("containerInstance") or "")
    if ci is None or ci.status == "INACTIVE":
        raise InvalidParameterException("Container instance not found.")
    live = [
        t
        for t in cluster_tasks(backend, cluster.name)
        if t.container_instance_arn == ci.container_instance_arn and t.last_status != "STOPPED"
    ]
    if live and not self._get_param("force"):
        raise InvalidParameterException("Found running tasks on the instance.")
    deregister_instance(backend, ci)
    return _json({"containerInstance": render_container_instance(backend, ci)})


def deregister_instance(backend: EC2ContainerServiceBackend, ci: SandboxContainerInstance) -> None:
    ci.status = "INACTIVE"
    ci.agent_connected = False
    ci.version += 1


def list_container_instances(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    status = self._get_param("status")
    flt = self._get_param("filter") or ""
    arns = []
    for ci in sorted(
        cluster_instances(backend, cluster.name),
        key=lambda c: (c.registered_at, c.id),
    ):
        if ci.status == "INACTIVE" or (status and ci.status != status):
            continue
        # The cluster query language is reduced to the one filter consoles use.
        if "ecs.capability.external" in flt and not ci.external:
            continue
        arns.append(ci.container_instance_arn)
    page, token = paginate(
        arns, self._get_param("nextToken"), self._get_param("maxResults"), default=100, maximum=100
    )
    return _json({"containerInstanceArns": page, **({"nextToken": token} if token else {})})


def describe_container_instances(self: EC2ContainerServiceResponse) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    refs = self._get_param("containerInstances") or []
    if not refs:
        raise InvalidParameterException("Container Instances cannot be empty.")
    check_batch(refs, 100, "containerInstances")
    include_tags = _include_tags(self)
    out, failures = [], []
    for ref in refs:
        ci = find_instance(backend, cluster.name, ref)
        if ci is None:
            failures.append(
                {
                    "arn": _arn_for(backend, "container-instance", cluster.name, ref),
                    "reason": "MISSING",
                }
            )
        else:
            out.append(render_container_instance(backend, ci, include_tags))
    return _json({"containerInstances": out, "failures": failures})


def update_container_instances_state(
    self: EC2ContainerServiceResponse,
) -> tuple[str, dict[str, str]]:
    backend = self.ecs_backend
    cluster = _cluster(backend, self._get_param("cluster"))
    status = (self._get_param("status") or "").upper()
    if status not in ("ACTIVE", "DRAINING"):
        raise InvalidParameterException(
            "Container instance status should be one of [ACTIVE, DRAINING]"
        )
    out, failures = [], []
    for ref in self._get_param("containerInstances") or []:
        ci = find_instance(backend, cluster.name, ref)
        if ci is None or ci.status == "INACTIVE":
            failures.append(
                {
                    "arn": _arn_for(backend, "container-instance", cluster.name, ref),
                    "reason": "MISSING",
                }
            )
            continue
        if ci.status != status:
            ci.status = status
            ci.version += 1
        out.append(render_container_instance(backend, ci))
    return _json({"containerInstances": out, "failures": failures})


# --- tagging of container instances ------------------------------------------

_original_get_resource = EC2ContainerServiceBackend._get_resource


def _get_resource(
    self: EC2ContainerServiceBackend, resource_arn: str, parsed_arn: dict[str, str]
) -> Any:
    if parsed_arn["service"] == "container-instance":
        for instances in self.container_instances.values():
            for ci in instances.values():
                if getattr(ci, "container_instance_arn", None) == resource_arn:
                    return ci
        raise JsonRESTError(
            "InvalidParameterException", "The specified container instance was not found."
        )
    if parsed_arn["service"] == "task":
        for t in all_tasks(self):
            if t.task_arn == resource_arn:
                return t
    return _original_get_resource(self, resource_arn, parsed_arn)


PATCHES: dict[str, Callable[..., Any]] = {
    "list_task_definitions": list_task_definitions,
    "list_clusters": list_clusters,
    "describe_clusters": describe_clusters,
    "run_task": run_task,
    "start_task": start_task,
    "describe_tasks": describe_tasks,
    "list_tasks": list_tasks,
    "stop_task": stop_task,
    "create_service": create_service,
    "list_services": list_services,
    "describe_services": describe_services,
    "update_service": update_service,
    "delete_service": delete_service,
    "register_container_instance": register_container_instance,
    "deregister_container_instance": deregister_container_instance,
    "list_container_instances": list_container_instances,
    "describe_container_instances": describe_container_instances,
    "update_container_instances_state": update_container_instances_state,
}

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    for name, fn in PATCHES.items():
        setattr(EC2ContainerServiceResponse, name, fn)
    TaskDefinition.__init__ = _td_init  # type: ignore[method-assign]
    EC2ContainerServiceBackend._get_resource = _get_resource  # type: ignore[method-assign]
    _applied = True
