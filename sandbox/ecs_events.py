"""ECS's events on the sandbox's EventBridge (moto's ``events`` backend, in-process).

moto 5.2.5's ECS emits nothing; AWS sends four detail types to the default event
bus (Amazon ECS Developer Guide, "Amazon ECS events"): ``ECS Task State Change``,
``ECS Container Instance State Change``, ``ECS Deployment State Change`` and
``ECS Service Action``. The sandbox publishes what AWS would by comparing the state
it holds after every AWS request, control call and scheduler step with what it
published last (``flush``): a task or container instance whose ``version`` moved
(an instance's also moves, as AWS's does, when a task is placed on or leaves it),
a deployment that appeared or changed ``rolloutState``, a service event message
that AWS also sends as a service action. Several changes of one object inside one
request or tick give one event with the newest state, which AWS's consumers
already have to accept (``detail.version`` skips; the guide says events may
arrive late, twice or out of order).

Only regions with an enabled rule that names ``aws.ecs`` pay for the comparison;
the first flush after such a rule appears only records the state (no replay of
history). Deliveries go through ``DELIVERY``, which a fault (``POST
/_sandbox/faults`` with ``events``) can make duplicate, delay and reorder.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.ecs.models import EC2ContainerServiceBackend

from sandbox.ecs_model import (
    SandboxService,
    all_instances,
    all_services,
    all_tasks,
    render_container_instance,
)
from sandbox.state import CLOCK, LOCK

TASK = "ECS Task State Change"
INSTANCE = "ECS Container Instance State Change"
DEPLOYMENT = "ECS Deployment State Change"
SERVICE_ACTION = "ECS Service Action"
DETAIL_TYPES = (TASK, INSTANCE, DEPLOYMENT, SERVICE_ACTION)

# DescribeTasks gives epoch seconds; events carry ISO 8601 strings (the guide's examples).
_TASK_TIMES = (
    "createdAt",
    "connectivityAt",
    "pullStartedAt",
    "pullStoppedAt",
    "startedAt",
    "stoppingAt",
    "stoppedAt",
    "executionStoppedAt",
)
_PLACEMENT_REASONS = (
    ("insufficient memory", "RESOURCE:MEMORY"),
    ("insufficient CPU", "RESOURCE:CPU"),
    ("using a port", "RESOURCE:PORTS"),
)


def iso(ts: float) -> str:
    """An event's timestamp. AWS writes milliseconds in its events as in its API; the
    sandbox keeps its own microseconds in both, so that an object written from its
    event and from a describe holds the same instant (as with AWS), and the order of
    what one scheduler step did stays visible."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Seen:
    """What one region's listeners have been told about."""

    tasks: dict[str, int] = field(default_factory=dict)
    instances: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    deployments: dict[str, str] = field(default_factory=dict)
    service_events: dict[str, str | None] = field(default_factory=dict)


_SEEN: dict[tuple[str, str], Seen] = {}


# --- delivery (with the fault) --------------------------------------------------


@dataclass
class Delivery:
    """How events reach the rules: at once, or (a fault) late, twice, shuffled."""

    duplicate: float = 0.0
    delay_seconds: float = 0.0
    reorder: bool = False
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    delivered: int = 0

    def configure(self, spec: dict[str, Any] | None) -> None:
        spec = spec or {}
        self.duplicate = float(spec.get("duplicate", 0.0))
        self.delay_seconds = float(spec.get("delay_seconds", 0.0))
        self.reorder = bool(spec.get("reorder", False))
        self.rng = random.Random(spec.get("seed", 0))

    def describe(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "delay_seconds": self.delay_seconds,
            "reorder": self.reorder,
            "delivered": self.delivered,
        }

    def send(self, backend: Any, events: list[dict[str, Any]]) -> None:
        batch = list(events)
        batch += [e for e in events if self.duplicate and self.rng.random() < self.duplicate]
        if self.reorder:
            self.rng.shuffle(batch)
        if self.delay_seconds <= 0:
            _to_rules(backend, batch)
            self.delivered += len(batch)
            return
        for event in batch:
            # Each event late by delay_seconds, or with reorder by half of it to all of it:
            # later changes can overtake it.
            part = 0.5 + 0.5 * self.rng.random() if self.reorder else 1.0
            delay = self.delay_seconds * part
            timer = threading.Timer(delay, self._late, args=(backend, event))
            timer.daemon = True
            timer.start()

    def _late(self, backend: Any, event: dict[str, Any]) -> None:
        with LOCK:
            _to_rules(backend, [event])
            self.delivered += 1


DELIVERY = Delivery()


def _to_rules(backend: Any, events: list[dict[str, Any]]) -> None:
    bus = backend.event_buses.get("default")
    if bus is None:
        return
    for event in events:
        for rule in list(bus.rules.values()):
            if rule.state != "ENABLED":
                continue
            # moto's SQS target rewrites "time"; each rule gets its own copy. Without an
            # input transformer the event goes as is (no moto-only "ingestion-time").
            copy = json.loads(json.dumps(event))
            transform = any("InputTransformer" in t for t in rule.targets)
            if transform:
                copy["ingestion-time"] = copy["time"]
            rule.send_to_targets(copy, transform_input=transform)


def _events_backend(account: str, region: str) -> Any:
    from moto.events.models import events_backends

    # Looking a region up in moto's dicts would create it; only existing ones count.
    regions = dict.get(events_backends, account)
    return dict.get(regions, region) if regions is not None else None


def _listening(backend: Any) -> bool:
    bus = backend.event_buses.get("default") if backend is not None else None
    if bus is None:
        return False
    return any(
        rule.state == "ENABLED"
        and rule.targets
        and "aws.ecs" in json.dumps(rule.event_pattern.dump())
        for rule in bus.rules.values()
    )


def reset() -> None:
    _SEEN.clear()
    DELIVERY.configure(None)
    DELIVERY.delivered = 0


# --- the comparison -----------------------------------------------------------


def flush() -> int:
    """Publish what changed since the last flush; returns how many events."""
    from sandbox.scheduler import iter_backends

    sent = 0
    with LOCK:
        for ecs in iter_backends():
            key = (ecs.account_id, ecs.region_name)
            events = _events_backend(*key)
            if not _listening(events):
                _SEEN.pop(key, None)
                continue
            seen = _SEEN.get(key)
            fresh = seen is None
            if seen is None:
                seen = _SEEN[key] = Seen()
            found = _changes(ecs, seen)
            if found and not fresh:
                DELIVERY.send(events, found)
                sent += len(found)
    return sent


def _changes(ecs: EC2ContainerServiceBackend, seen: Seen) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    now = CLOCK.timestamp()
    usage: dict[str, tuple[int, int, int, int]] = {}
    for task in all_tasks(ecs):
        if seen.tasks.get(task.task_arn) != task.version:
            seen.tasks[task.task_arn] = task.version
            out.append(_envelope(ecs, TASK, task.task_arn, _task_detail(task.render(), now)))
        _usage_add(usage, task)
    for ci in all_instances(ecs):
        used = usage.get(ci.container_instance_arn, (0, 0, 0, 0))
        old = seen.instances.get(ci.container_instance_arn)
        if old is not None and old[0] == ci.version and old[3] != used:
            # Placing or stopping a task changes the instance's resources: AWS counts
            # that as a change of the instance (its version rises) and sends an event.
            ci.version += 1
        mark = (ci.version, ci.agent_connected, ci.status, used)
        if old != mark:
            seen.instances[ci.container_instance_arn] = mark
            # Rendered only when it changed: its resources cost a pass over the tasks.
            rendered = render_container_instance(ecs, ci)
            rendered["updatedAt"] = iso(now)
            rendered["registeredAt"] = iso(ci.registered_at)
            rendered["clusterArn"] = ci.cluster_arn
            rendered["accountType"] = "ACCOUNT"
            out.append(_envelope(ecs, INSTANCE, ci.container_instance_arn, rendered))
    for svc in all_services(ecs):
        out.extend(_deployment_changes(ecs, svc, seen))
        out.extend(_service_actions(ecs, svc, seen))
    return out


def _usage_add(usage: dict[str, tuple[int, int, int, int]], task: Any) -> None:
    """Add a task's share to its instance's (running, pending, cpu, memory), counted
    as ``ecs_model.instance_usage`` counts it: every task not yet STOPPED."""
    arn = task.container_instance_arn
    if not arn or task.last_status == "STOPPED":
        return
    running, pending, cpu, memory = usage.get(arn, (0, 0, 0, 0))
    is_running = task.last_status == "RUNNING"
    usage[arn] = (
        running + is_running,
        pending + (not is_running),
        cpu + task.requirements["CPU"],
        memory + task.requirements["MEMORY"],
    )


def _task_detail(task: dict[str, Any], now: float) -> dict[str, Any]:
    detail = dict(task)
    for key in _TASK_TIMES:
        if isinstance(detail.get(key), (int, float)):
            detail[key] = iso(float(detail[key]))
    detail["updatedAt"] = iso(now)
    return detail


def _deployment_changes(
    ecs: EC2ContainerServiceBackend, svc: SandboxService, seen: Seen
) -> list[dict[str, Any]]:
    out = []
    for dep in svc.deployments:
        if seen.deployments.get(dep.id) == dep.rollout_state:
            continue
        seen.deployments[dep.id] = dep.rollout_state
        detail = {
            "eventType": "ERROR" if dep.rollout_state == "FAILED" else "INFO",
            "eventName": f"SERVICE_DEPLOYMENT_{dep.rollout_state}",
            "deploymentId": dep.id,
            "updatedAt": iso(dep.updated_at),
            "reason": dep.rollout_state_reason,
        }
        out.append(_envelope(ecs, DEPLOYMENT, svc.arn, detail))
    return out


def _service_actions(
    ecs: EC2ContainerServiceBackend, svc: SandboxService, seen: Seen
) -> list[dict[str, Any]]:
    """The service event messages AWS also sends as ECS Service Action events."""
    newest = svc.events[0]["id"] if svc.events else None
    last = seen.service_events.get(svc.arn)
    seen.service_events[svc.arn] = newest
    if newest == last:
        return []
    fresh = []
    for event in svc.events:
        if event["id"] == last:
            break
        fresh.append(event)
    out = []
    for event in reversed(fresh):  # oldest first, as they happened
        detail = _service_action(event["message"])
        if detail is not None:
            detail["clusterArn"] = svc.cluster_arn
            detail["createdAt"] = iso(float(event["createdAt"]))
            out.append(_envelope(ecs, SERVICE_ACTION, svc.arn, detail))
    return out


def _service_action(message: str) -> dict[str, Any] | None:
    if message.endswith("has reached a steady state."):
        return {"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE"}
    if "was unable to place a task" in message:
        reasons = [code for text, code in _PLACEMENT_REASONS if text in message]
        detail: dict[str, Any] = {
            "eventType": "ERROR",
            "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
        }
        if reasons:
            detail["reasons"] = reasons
        return detail
    return None


def _envelope(
    ecs: EC2ContainerServiceBackend, detail_type: str, resource: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.ecs",
        "account": ecs.account_id,
        # Epoch seconds here: moto's SQS target writes it as AWS's ISO "time".
        "time": time.time() + CLOCK.offset,
        "region": ecs.region_name,
        "resources": [resource],
        "detail": detail,
    }
