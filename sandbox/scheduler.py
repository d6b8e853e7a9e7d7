"""A small ECS service scheduler, stepped one tick at a time.

Each step (one ``POST /_sandbox/tick`` with the manual clock, or every
``--tick-seconds`` with the real one):

1. moves tasks along their lifecycle (PENDING -> RUNNING, desiredStatus
   STOPPED -> STOPPED), crashing tasks of task definitions marked to crash;
   tasks on instances whose agent is disconnected are frozen, as on AWS;
2. forgets tasks that stopped more than ``forget_after`` seconds ago;
3. reconciles every service: rolling deployments within maximumPercent and
   minimumHealthyPercent, replacing tasks on DRAINING/INACTIVE instances,
   the deployment circuit breaker (and rollback), and AWS's event messages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend, TaskDefinition, ecs_backends

from sandbox import docker_agent, ecs_events
from sandbox.ecs_model import (
    Deployment,
    SandboxContainerInstance,
    SandboxService,
    SandboxTask,
    all_instances,
    all_services,
    cluster_instances,
    cluster_tasks,
    deployment_id,
    remaining,
)
from sandbox.paging import InvalidParameterException
from sandbox.state import CLOCK, LOCK, SETTINGS

# task definition ARN or family -> (exit code, container reason)
CRASHES: dict[str, tuple[int, str]] = {}

ESSENTIAL_EXITED = "Essential container in task exited"
SCHEDULER_STOP_REASON = "Scaling activity initiated by (deployment {dep})"


def reset() -> None:
    CRASHES.clear()


def iter_backends() -> Iterator[EC2ContainerServiceBackend]:
    """Regions that exist already; never creates a backend by looking."""
    for account_backends in list(dict.values(ecs_backends)):
        yield from list(dict.values(account_backends))


def crash_mark(td: TaskDefinition) -> tuple[int, str] | None:
    # Marked by ARN, "family:revision" or bare family (every revision).
    for key in (td.arn, f"{td.family}:{td.revision}", td.family):
        if key in CRASHES:
            return CRASHES[key]
    return None


# --- placement ---------------------------------------------------------------


def _instances(backend: EC2ContainerServiceBackend, cluster: str) -> list[SandboxContainerInstance]:
    return sorted(cluster_instances(backend, cluster), key=lambda c: (c.registered_at, c.id))


def place(
    backend: EC2ContainerServiceBackend,
    cluster: str,
    td: TaskDefinition,
    launch_type: str,
    group: str,
) -> tuple[SandboxContainerInstance | None, str | None, SandboxContainerInstance | None]:
    """Pick an instance (spread by group, then binpack-ish by memory).

    Returns (instance, None, None) or (None, failure reason, closest instance).
    """
    need: dict[str, Any] = _requirements(td)
    candidates = [
        ci
        for ci in _instances(backend, cluster)
        if ci.status == "ACTIVE"
        and ci.agent_connected
        and ci.external == (launch_type == "EXTERNAL")
    ]
    if not candidates:
        return None, "NO_INSTANCES", None
    fits = []
    closest: tuple[int, SandboxContainerInstance, str] | None = None
    for ci in candidates:
        cpu, mem, ports = remaining(backend, ci)
        why = None
        if need["MEMORY"] > mem:
            why = "RESOURCE:MEMORY"
        elif need["CPU"] > cpu:
            why = "RESOURCE:CPU"
        elif set(need["PORTS"]) & set(ports):
            why = "RESOURCE:PORTS"
        if why is None:
            same_group = sum(
                1
                for t in cluster_tasks(backend, cluster)
                if t.live
                and t.group == group
                and t.container_instance_arn == ci.container_instance_arn
            )
            fits.append((same_group, -mem, ci.registered_at, ci))
        elif closest is None or mem > closest[0]:
            closest = (mem, ci, why)
    if fits:
        fits.sort(key=lambda f: (f[0], f[1], f[2]))
        return fits[0][3], None, None
    assert closest is not None
    return None, closest[2], closest[1]


def _requirements(td: TaskDefinition) -> dict[str, Any]:
    from sandbox.ecs_model import task_requirements

    return task_requirements(td)


def create_task(
    backend: EC2ContainerServiceBackend,
    cluster: Any,
    td: TaskDefinition,
    ci: SandboxContainerInstance | None,
    launch_type: str,
    *,
    group: str,
    started_by: str = "",
    tags: list[dict[str, str]] | None = None,
    overrides: dict[str, Any] | None = None,
) -> SandboxTask:
    task = SandboxTask(
        cluster_name=cluster.name,
        cluster_arn=cluster.arn,
        region_name=backend.region_name,
        account_id=backend.account_id,
        task_definition=td,
        container_instance_arn=ci.container_instance_arn if ci else None,
        launch_type=launch_type,
        group=group,
        started_by=started_by,
        tags=list(tags or []),
        overrides=overrides or {},
    )
    backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task  # type: ignore[assignment]
    return task


def start_task(
    backend: EC2ContainerServiceBackend,
    cluster: Any,
    td: TaskDefinition,
    launch_type: str,
    *,
    group: str,
    started_by: str = "",
    tags: list[dict[str, str]] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[SandboxTask | None, str | None, str | None]:
    """RunTask's placement: (task, None, None) or (None, reason, instance arn)."""
    if launch_type == "FARGATE":
        return (
            create_task(
                backend,
                cluster,
                td,
                None,
                launch_type,
                group=group,
                started_by=started_by,
                tags=tags,
                overrides=overrides,
            ),
            None,
            None,
        )
    ci, why, closest = place(backend, cluster.name, td, launch_type, group)
    if ci is None:
        if why == "NO_INSTANCES":
            raise InvalidParameterException("No Container Instances were found in your cluster.")
        return None, why, closest.container_instance_arn if closest else None
    task = create_task(
        backend,
        cluster,
        td,
        ci,
        launch_type,
        group=group,
        started_by=started_by,
        tags=tags,
        overrides=overrides,
    )
    return task, None, None


# --- deployments -------------------------------------------------------------


def new_deployment(
    svc: SandboxService, td: TaskDefinition, rollback_to: str | None = None
) -> Deployment:
    now = CLOCK.timestamp()
    for d in svc.deployments:
        if d.status == "PRIMARY":
            d.status = "ACTIVE"
            d.updated_at = now
    dep = Deployment(deployment_id(), td, svc.desired_count, svc.launch_type)
    if rollback_to:
        dep.rollout_state_reason = (
            f"ECS deployment circuit breaker: rolling back to deploymentId {rollback_to}."
        )
    svc.deployments.insert(0, dep)
    svc.steady = False
    return dep


# --- the step ----------------------------------------------------------------


def tick(count: int = 1) -> int:
    """Run ``count`` scheduler steps; with the manual clock time moves too."""
    for _ in range(count):
        with LOCK:
            if CLOCK.mode == "manual":
                CLOCK.advance(CLOCK.tick_seconds)
            for backend in iter_backends():
                step(backend)
            ecs_events.flush()
    return count


def step(backend: EC2ContainerServiceBackend) -> None:
    instances = {ci.container_instance_arn: ci for ci in all_instances(backend)}
    services = {f"service:{s.name}@{s.cluster_name}": s for s in all_services(backend)}
    docker_agent.poll(backend, instances)
    for cluster_name in list(backend.tasks):
        for task in cluster_tasks(backend, cluster_name):
            _advance(task, instances, services)
    _forget(backend)
    for svc in list(services.values()):
        if svc.status != "INACTIVE":
            reconcile(backend, svc, instances)


def _advance(
    task: SandboxTask,
    instances: dict[str, SandboxContainerInstance],
    services: dict[str, SandboxService],
) -> None:
    if task.last_status == "STOPPED":
        return
    ci = instances.get(task.container_instance_arn or "")
    # A disconnected agent can neither start nor stop anything on its machine.
    if ci is not None and not ci.agent_connected and ci.status != "INACTIVE":
        return
    if task.desired_status == "STOPPED":
        docker_agent.stop(task)
        task.mark_stopped(exit_code=0 if task.stop_code != "EssentialContainerExited" else None)
        return
    if task.last_status in ("PROVISIONING", "PENDING", "ACTIVATING"):
        crash = crash_mark(task.task_definition)
        if crash is not None:
            exit_code, reason = crash
            task.pull_started_at = task.pull_stopped_at = CLOCK.timestamp()
            task.mark_stopped("EssentialContainerExited", ESSENTIAL_EXITED, exit_code, reason)
            svc = services.get(f"{task.group}@{task.cluster_name}")
            if svc is not None:
                for d in svc.deployments:
                    if d.id == task.started_by:
                        d.failed_tasks += 1
                        d.updated_at = CLOCK.timestamp()
            return
        task.mark_running()
        if ci is not None:
            docker_agent.start(task, ci)


def _forget(backend: EC2ContainerServiceBackend) -> None:
    cutoff = CLOCK.timestamp() - SETTINGS.forget_after
    for tasks in backend.tasks.values():
        for arn in [
            arn
            for arn, t in tasks.items()
            if isinstance(t, SandboxTask) and t.stopped_at is not None and t.stopped_at <= cutoff
        ]:
            del tasks[arn]


def _needs_moving(task: SandboxTask, instances: dict[str, SandboxContainerInstance]) -> bool:
    ci = instances.get(task.container_instance_arn or "")
    return ci is not None and ci.status in ("DRAINING", "INACTIVE")


def _ids(tasks: list[SandboxTask]) -> str:
    return " ".join(f"(task {t.id})" for t in tasks)


def _add_event_once(svc: SandboxService, message: str) -> None:
    # AWS does not repeat an identical placement failure on every attempt.
    if not svc.events or svc.events[0]["message"] != message:
        svc.add_event(message)


def reconcile(
    backend: EC2ContainerServiceBackend,
    svc: SandboxService,
    instances: dict[str, SandboxContainerInstance],
) -> None:
    group = f"service:{svc.name}"
    tasks = [t for t in cluster_tasks(backend, svc.cluster_name) if t.group == group]
    live = [t for t in tasks if t.live]
    now = CLOCK.timestamp()
    primary = svc.primary
    name = f"(service {svc.name})"

    if svc.status == "DRAINING":
        if live:
            for t in live:
                t.request_stop("ServiceSchedulerInitiated", "Service is being deleted")
            svc.add_event(f"{name} has stopped {len(live)} running tasks: {_ids(live)}.")
        elif not [t for t in tasks if t.last_status != "STOPPED"]:
            svc.status = "INACTIVE"
        _count(svc, tasks)
        return

    # The circuit breaker judges the primary deployment by its failed tasks.
    cb_enabled, cb_rollback = svc.circuit_breaker()
    if (
        cb_enabled
        and primary.rollout_state == "IN_PROGRESS"
        and primary.failed_tasks >= svc.failure_threshold()
    ):
        primary.rollout_state = "FAILED"
        primary.rollout_state_reason = "ECS deployment circuit breaker: tasks failed to start."
        primary.updated_at = now
        svc.add_event(f"{name} (deployment {primary.id}) deployment failed: tasks failed to start.")
        last_good = getattr(svc, "last_completed", None)
        if cb_rollback and last_good is not None:
            good_id, good_td = last_good
            new_deployment(svc, good_td, rollback_to=good_id)
            primary = svc.primary

    desired = svc.desired_count
    max_pct = int(svc.deployment_configuration.get("maximumPercent", 200))
    min_pct = int(svc.deployment_configuration.get("minimumHealthyPercent", 100))
    max_total = math.floor(desired * max_pct / 100)
    min_healthy = math.ceil(desired * min_pct / 100)

    primary_good = [
        t for t in live if t.started_by == primary.id and not _needs_moving(t, instances)
    ]
    to_stop: list[SandboxTask] = []
    # Scale-in: excess primary tasks go first, pending ones before running ones.
    excess = len(primary_good) - desired
    if excess > 0:
        ordered = sorted(primary_good, key=lambda t: (t.last_status == "RUNNING", -t.created_at))
        to_stop.extend(ordered[:excess])
    healthy = sum(1 for t in live if t.last_status == "RUNNING" and t not in to_stop)
    budget = healthy - min_healthy
    replaceable = [
        t
        for t in live
        if t not in to_stop and (t.started_by != primary.id or _needs_moving(t, instances))
    ]
    # Tasks not yet running cost nothing to stop; running ones spend the budget.
    for t in sorted(replaceable, key=lambda t: (t.last_status == "RUNNING", t.created_at)):
        if t.last_status != "RUNNING":
            to_stop.append(t)
        elif budget > 0:
            to_stop.append(t)
            budget -= 1
    if to_stop:
        for t in to_stop:
            dep = next((d for d in svc.deployments if d.id == t.started_by), primary)
            t.request_stop("ServiceSchedulerInitiated", SCHEDULER_STOP_REASON.format(dep=dep.id))
        svc.add_event(f"{name} has stopped {len(to_stop)} running tasks: {_ids(to_stop)}.")
        svc.steady = False

    still_live = [t for t in live if t not in to_stop]
    primary_good = [t for t in primary_good if t not in to_stop]
    halted = primary.rollout_state == "FAILED"
    need = desired - len(primary_good)
    room = max(max_total, desired) - len(still_live)
    started: list[SandboxTask] = []
    if need > 0 and not halted:
        cluster = backend._get_cluster(svc.cluster_name)
        for _ in range(max(0, min(need, room))):
            ci, why, closest = place(
                backend, svc.cluster_name, primary.task_definition, svc.launch_type, group
            )
            if ci is None:
                _add_event_once(svc, _placement_message(name, why, closest))
                break
            started.append(
                create_task(
                    backend,
                    cluster,
                    primary.task_definition,
                    ci,
                    svc.launch_type,
                    group=group,
                    started_by=primary.id,
                    tags=svc.tags if svc.propagate_tags == "SERVICE" else [],
                )
            )
    if started:
        svc.add_event(f"{name} has started {len(started)} tasks: {_ids(started)}.")
        svc.steady = False
        tasks.extend(started)

    # Drop drained deployments, then judge the primary.
    # A deployment is gone once none of its tasks is left (not merely asked to stop).
    for d in list(svc.deployments[1:]):
        if not any(t.last_status != "STOPPED" and t.started_by == d.id for t in tasks):
            svc.deployments.remove(d)
    _count(svc, tasks)
    running_primary = sum(
        1
        for t in tasks
        if t.live
        and t.started_by == primary.id
        and t.last_status == "RUNNING"
        and not _needs_moving(t, instances)
    )
    stopping = any(t.last_status != "STOPPED" and not t.live for t in tasks)
    settled = (
        len(svc.deployments) == 1
        and running_primary == desired
        and svc.pending_count == 0
        and not stopping
    )
    if settled and primary.rollout_state == "IN_PROGRESS":
        primary.rollout_state = "COMPLETED"
        primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
        primary.updated_at = now
        svc.add_event(f"{name} (deployment {primary.id}) deployment completed.")
    if primary.rollout_state == "COMPLETED":
        svc.last_completed = (primary.id, primary.task_definition)  # type: ignore[attr-defined]
    if settled and svc.running_count == desired and not svc.steady:
        svc.steady = True
        svc.add_event(f"{name} has reached a steady state.")


def _placement_message(name: str, why: str | None, closest: SandboxContainerInstance | None) -> str:
    prefix = (
        f"{name} was unable to place a task because no container instance met all of its "
        "requirements."
    )
    if why == "NO_INSTANCES" or closest is None:
        return (
            f"{prefix} Reason: No Container Instances were found in your cluster. For more "
            "information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        )
    what = {
        "RESOURCE:MEMORY": "memory",
        "RESOURCE:CPU": "CPU units",
        "RESOURCE:PORTS": "ports",
    }.get(why or "", "resources")
    closest_ref = f"The closest matching (container-instance {closest.id})"
    if why == "RESOURCE:PORTS":
        detail = f"{closest_ref} is already using a port required by your task."
    else:
        detail = f"{closest_ref} has insufficient {what} available."
    return f"{prefix} {detail} For more information, see the Troubleshooting section."


def _count(svc: SandboxService, tasks: list[SandboxTask]) -> None:
    """True counts: RUNNING and PENDING by lastStatus, as DescribeServices reports."""
    active = [t for t in tasks if t.last_status != "STOPPED"]
    svc.running_count = sum(1 for t in active if t.last_status == "RUNNING")
    svc.pending_count = sum(1 for t in active if t.last_status != "RUNNING")
    now = CLOCK.timestamp()
    for d in svc.deployments:
        mine = [t for t in active if t.started_by == d.id]
        running = sum(1 for t in mine if t.last_status == "RUNNING")
        pending = len(mine) - running
        if d.status != "PRIMARY":
            d.desired_count = len(mine)
        else:
            d.desired_count = svc.desired_count
        if (running, pending) != (d.running_count, d.pending_count):
            d.running_count, d.pending_count = running, pending
            d.updated_at = now


def chaos(rng: random.Random, probability: float = 0.05) -> None:
    """Real-clock demo life: now and then a running service task dies of OOM."""
    with LOCK:
        for backend in iter_backends():
            for tasks in backend.tasks.values():
                for t in list(tasks.values()):
                    if (
                        isinstance(t, SandboxTask)
                        and t.last_status == "RUNNING"
                        and t.desired_status == "RUNNING"
                        and t.group.startswith("service:")
                        and rng.random() < probability / max(1, len(tasks))
                    ):
                        kill(t, 137, "OutOfMemoryError: Container killed due to memory usage")


def kill(task: SandboxTask, exit_code: int, reason: str | None) -> None:
    """The task's essential container exited by itself (not the scheduler's doing)."""
    docker_agent.stop(task)
    task.mark_stopped("EssentialContainerExited", ESSENTIAL_EXITED, exit_code, reason)
