"""What the ``awslogs`` log driver does on a container instance: each container
whose task definition says ``logDriver: awslogs`` writes its output to CloudWatch
Logs, group ``awslogs-group`` in ``awslogs-region``, stream
``<awslogs-stream-prefix>/<container name>/<task id>`` (AWS, "Using the awslogs log
driver"). The sandbox's demo containers run nothing, so it writes believable lines
for them: a start banner, a line per scheduler step while they run, and the last
line a crashing process prints before it exits (an OOM kill prints nothing of its
own; the process's last words are whatever it wrote before).

Lines go straight into moto's in-process logs backend (the ECS agent's own
PutLogEvents, done here without HTTP). moto rejects events older than 14 days or
newer than 2 hours by the wall clock; the sandbox's manual clock runs ahead in
tests, so the events are stored in the stream directly, stamped with sandbox time.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any, cast

from moto.logs.models import logs_backends

from sandbox.state import ACCOUNT_ID, CLOCK

if TYPE_CHECKING:
    from sandbox.ecs_model import SandboxTask

log = logging.getLogger(__name__)
_steps = itertools.count(1)


def streams(task: SandboxTask) -> list[tuple[str, str, str, str]]:
    """(region, group, stream, container name) of each awslogs container of ``task``."""
    found: list[tuple[str, str, str, str]] = []
    task_id = task.task_arn.rsplit("/", 1)[-1]
    for cdef in task.task_definition.container_definitions:
        conf = cast("dict[str, Any]", cdef.get("logConfiguration") or {})
        options: dict[str, Any] = conf.get("options") or {}
        group = options.get("awslogs-group")
        if conf.get("logDriver") != "awslogs" or not group:
            continue
        name = str(cdef.get("name"))
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
        region = options.get("awslogs-region") or task.region_name
        found.append((str(region), str(group), stream, name))
    return found


def _stream(region: str, group: str, stream: str) -> Any:
    backend = logs_backends[ACCOUNT_ID][region]
    if group not in backend.groups:
        backend.create_log_group(group, tags={})
    backend.ensure_log_stream(group, stream)
    return backend.groups[group]


def write(task: SandboxTask, messages: list[str]) -> None:
    """Append ``messages`` (one event each, a millisecond apart) to every awslogs
    stream of ``task``. The demo must survive a logging hiccup: failures are logged."""
    if not messages:
        return
    base = int(CLOCK.timestamp() * 1000)
    for region, group, stream, name in streams(task):
        events = [
            {"timestamp": base + i, "message": m.replace("{name}", name)}
            for i, m in enumerate(messages)
        ]
        try:
            _stream(region, group, stream).put_log_events(stream, events)
        except Exception as exc:
            log.warning("could not write logs for %s: %s", task.task_arn, exc)


def started(task: SandboxTask) -> None:
    image = task.task_definition.container_definitions[0].get("image", "")
    write(
        task,
        [
            f"{{name}} starting ({image})",
            "loaded configuration from environment",
            "ready: accepting work",
        ],
    )


def running(task: SandboxTask) -> None:
    step = next(_steps)
    write(task, [f"{{name}} heartbeat {step}: processed {17 + step % 23} items"])


def crashed(task: SandboxTask, exit_code: int, reason: str | None) -> None:
    """The last lines a process prints before it exits with ``exit_code``."""
    if reason and "OutOfMemory" in reason:
        last = [
            "allocating batch buffer (268435456 bytes)",
            "WARNING: memory use at 97% of the container limit",
        ]
    else:
        last = [f"FATAL: {reason or 'unhandled error'}", f"exiting with status {exit_code}"]
    write(task, last)
