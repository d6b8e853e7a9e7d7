"""A pretend ECS agent that runs tasks as real containers on a Docker host.

An external instance linked to a Docker URL (``POST /_sandbox/link-docker-host``)
gets real containers for the tasks placed on it, labelled the way the ECS agent
labels them, so the console's Docker side sees what it would see on a machine
in the field. A container that exits on its own stops its task on the next tick.
Without a reachable Docker engine every hook is a no-op.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from sandbox.state import SETTINGS

if TYPE_CHECKING:
    from moto.ecs.models import EC2ContainerServiceBackend

    from sandbox.ecs_model import SandboxContainerInstance, SandboxTask

log = logging.getLogger(__name__)

IMAGE = "fleetdeck-busybox:latest"
_clients: dict[str, Any] = {}


def client(url: str) -> Any:
    if url not in _clients:
        import docker

        _clients[url] = docker.DockerClient(base_url=url, timeout=10)
    return _clients[url]


def available(url: str) -> bool:
    try:
        client(url).ping()
        return True
    except Exception:
        _clients.pop(url, None)
        return False


def start(task: SandboxTask, ci: SandboxContainerInstance) -> None:
    url = SETTINGS.docker_links.get(ci.ec2_instance_id)
    if not url:
        return
    td = task.task_definition
    try:
        dc = client(url)
        for cdef, container in zip(td.container_definitions, task.containers, strict=False):
            name = f"ecs-{td.family}-{td.revision}-{cdef.get('name')}-{secrets.token_hex(8)}"
            command = cdef.get("command") or ["sleep", "3600"]
            created = dc.containers.run(
                IMAGE,
                command=command,
                name=name,
                detach=True,
                labels={
                    "com.amazonaws.ecs.cluster": task.cluster_name,
                    "com.amazonaws.ecs.task-arn": task.task_arn,
                    "com.amazonaws.ecs.container-name": str(cdef.get("name")),
                    "com.amazonaws.ecs.task-definition-family": td.family,
                    "com.amazonaws.ecs.task-definition-version": str(td.revision),
                },
            )
            container["runtimeId"] = created.id
            task.docker_ids.append(created.id)
        task.docker_url = url
    except Exception as exc:  # the demo must survive a flaky Docker host
        log.warning("docker agent could not start %s: %s", task.task_arn, exc)


def stop(task: SandboxTask) -> None:
    if not task.docker_url or not task.docker_ids:
        return
    try:
        dc = client(task.docker_url)
        for cid in task.docker_ids:
            try:
                dc.containers.get(cid).remove(force=True)
            except Exception as exc:
                log.debug("container %s already gone: %s", cid, exc)
    finally:
        task.docker_ids = []


def poll(
    backend: EC2ContainerServiceBackend, instances: dict[str, SandboxContainerInstance]
) -> None:
    """Stop tasks whose container died by itself, with the container's exit code."""
    from sandbox.ecs_model import all_tasks

    for task in all_tasks(backend):
        if not task.docker_ids or task.last_status != "RUNNING" or task.desired_status != "RUNNING":
            continue
        try:
            dc = client(task.docker_url or "")
            for cid in task.docker_ids:
                state = dc.containers.get(cid).attrs.get("State", {})
                if state.get("Status") in ("exited", "dead"):
                    code = int(state.get("ExitCode", 1))
                    reason = (
                        "OutOfMemoryError: Container killed due to memory usage"
                        if state.get("OOMKilled")
                        else None
                    )
                    stop(task)
                    task.mark_stopped(
                        "EssentialContainerExited",
                        "Essential container in task exited",
                        code,
                        reason,
                    )
                    break
        except Exception as exc:
            log.debug("docker poll for %s failed: %s", task.task_arn, exc)
