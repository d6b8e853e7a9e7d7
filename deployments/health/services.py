"""The health of one ECS service: every rule, each giving reasons; the state is the
worst of them. Read docs/dashboard.md for what each state and reason code means."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings

from clusters.display import timestamp_text
from clusters.health import HealthState, Reason, reason, worst
from deployments.health.facts import Facts, PlacementFailure, Stop, deployment_key
from deployments.models import Deployment, Service, TaskDefinition

H = HealthState


@dataclass
class Verdict:
    state: str
    reasons: list[Reason] = field(default_factory=list)


def crash_window() -> timedelta:
    return timedelta(minutes=settings.FLEETDECK_CRASH_LOOP_MINUTES)


def service_verdict(svc: Service, facts: Facts, inherited: list[Reason]) -> Verdict:
    """``inherited``: the cluster's reasons for not knowing (never synced, stale)."""
    if svc.status != "ACTIVE" or svc.gone_at is not None:
        return Verdict(H.INACTIVE)
    dep = facts.newest_deployment.get(svc.pk)
    reasons = [
        *_rollout(svc, dep, facts),
        *_rolled_back(svc, dep, facts),
        *_running(svc, dep),
        *_crashes(_current_stops(svc, facts), facts),
        *_placement(svc, dep, facts),
        *_disconnected(facts.on_disconnected.get(svc.pk, 0)),
    ]
    if inherited:
        return Verdict(H.UNKNOWN, inherited + reasons)
    return Verdict(worst(r["state"] for r in reasons), reasons)


def _td(dep: Deployment | None, svc: Service) -> str:
    td = (dep.task_definition if dep else None) or svc.task_definition
    return str(td) if td else "its task definition"


def _rollout(svc: Service, dep: Deployment | None, facts: Facts) -> list[Reason]:
    if dep is None:
        return []
    evidence = {
        "deployment_id": dep.deployment_id,
        "task_definition": _td(dep, svc),
        "running": dep.running_count,
        "desired": dep.desired_count,
        "failed_tasks": dep.failed_tasks,
    }
    if dep.rollout_state == "FAILED":
        why = (dep.rollout_state_reason or "rollout state FAILED").rstrip(".")
        failed = f", {dep.failed_tasks} tasks failed to start" if dep.failed_tasks else ""
        return [
            reason(
                "rollout-failed",
                H.FAILING,
                f"rollout to {_td(dep, svc)} failed: {why}{failed}",
                dep.updated_at_aws,
                **evidence,
            )
        ]
    if dep.rollout_state != "IN_PROGRESS":
        return []
    started = dep.created_at_aws or facts.now
    stuck = facts.now - started > timedelta(minutes=settings.FLEETDECK_STUCK_ROLLOUT_MINUTES)
    return [
        reason(
            "rollout-stuck" if stuck else "rollout-in-progress",
            H.DEGRADED,
            f"rolling out {_td(dep, svc)}: {dep.running_count} of {dep.desired_count} new tasks "
            f"running" + (f", in progress since {timestamp_text(started)}" if stuck else ""),
            dep.created_at_aws,
            **evidence,
        )
    ]


def _rolled_back(svc: Service, dep: Deployment | None, facts: Facts) -> list[Reason]:
    """A rollout that FAILED within the hour and was replaced by an earlier revision
    (the circuit breaker's rollback, or a manual one): the service may be fine, but
    the release it was given is not running. Never reported as a success."""
    failed = [
        d
        for d in facts.recent_failed.get(svc.pk, [])
        if dep is not None and deployment_key(d) < deployment_key(dep) and _older(dep, d)
    ]
    if not failed:
        return []
    last = max(failed, key=deployment_key)
    why = (last.rollout_state_reason or "rollout state FAILED").rstrip(".")
    now_runs = f"; now running {_td(dep, svc)}"
    return [
        reason(
            "rolled-back",
            H.DEGRADED,
            f"rollout to {_td(last, svc)} failed and was replaced{now_runs}: {why}",
            last.updated_at_aws,
            deployment_id=last.deployment_id,
            task_definition=_td(last, svc),
        )
    ]


def _older(current: Deployment, failed: Deployment) -> bool:
    """Does the current deployment run an earlier revision of the failed one's
    family (a rollback), rather than a later fix?"""
    now, bad = current.task_definition, failed.task_definition
    return bool(now and bad and now.family == bad.family and now.revision < bad.revision)


def _running(svc: Service, dep: Deployment | None) -> list[Reason]:
    running, desired, pending = svc.running_count, svc.desired_count, svc.pending_count
    if running >= desired:
        return []
    text = f"{running} of {desired} tasks running" + (f", {pending} pending" if pending else "")
    evidence = {"running": running, "desired": desired, "pending": pending}
    if running == 0:
        return [reason("no-tasks-running", H.DOWN, text, None, **evidence)]
    return [reason("below-desired", H.DEGRADED, text, None, **evidence)]


def _current_stops(svc: Service, facts: Facts) -> list[Stop]:
    """Failed stops of the revisions the service still runs: after a rollback, the
    crashes of the revision it left are history (its `rolled-back` reason says so),
    not a crash loop of the service as it is now."""
    stops = facts.stops.get(svc.pk, [])
    live = facts.live_task_definitions.get(svc.pk)
    if not live:
        return stops
    return [s for s in stops if s.task_definition_id in live]


def _crashes(stops: list[Stop], facts: Facts) -> list[Reason]:
    window = crash_window()
    recent = [s for s in stops if s.stopped_at >= facts.now - window]
    if not recent:
        return []
    minutes = int(window.total_seconds() // 60)
    oom = sum(1 for s in recent if s.oom)
    codes = Counter(s.exit_code for s in recent if s.exit_code is not None)
    evidence = {
        "stops": len(recent),
        "oom": oom,
        "exit_codes": {str(k): v for k, v in sorted(codes.items(), key=lambda kv: str(kv[0]))},
        "window_minutes": minutes,
        "last_task_arn": recent[-1].task_arn,
    }
    if oom == len(recent):
        what = f"{oom} OOM kill{'s' if oom > 1 else ''} in {minutes} min"
    else:
        exits = ", ".join(f"exit {k} ×{v}" for k, v in sorted(codes.items(), key=str))  # noqa: RUF001
        count = f"{len(recent)} task stop{'s' if len(recent) > 1 else ''}"
        what = f"{count} with a failure in {minutes} min ({exits}"
        what += f"; {oom} OOM)" if oom else ")"
    if len(recent) >= settings.FLEETDECK_CRASH_LOOP_STOPS:
        return [
            reason("crash-loop", H.FAILING, f"crash loop: {what}", recent[0].stopped_at, **evidence)
        ]
    return [reason("task-failures", H.DEGRADED, what, recent[0].stopped_at, **evidence)]


def _placement(svc: Service, dep: Deployment | None, facts: Facts) -> list[Reason]:
    failure = facts.placement.get(svc.arn)
    settled = svc.running_count >= svc.desired_count and svc.pending_count == 0
    if failure is None or (settled and (dep is None or dep.rollout_state != "IN_PROGRESS")):
        return []
    td = (dep.task_definition if dep else None) or svc.task_definition
    message, evidence = _placement_words(failure, td, svc, facts)
    return [reason("cannot-place", H.FAILING, message, failure.first_at, **evidence)]


def _placement_words(
    failure: PlacementFailure, td: TaskDefinition | None, svc: Service, facts: Facts
) -> tuple[str, dict[str, object]]:
    name = str(td) if td else svc.name
    closest = next(
        (
            i
            for i in facts.instances
            if failure.closest_instance and i.arn.endswith(failure.closest_instance)
        ),
        None,
    )
    evidence: dict[str, object] = {
        "resource": failure.resource,
        "event": failure.message,
        "closest_instance": failure.closest_instance,
        "closest_instance_pk": closest.pk if closest else None,
    }
    connected = [
        i
        for i in facts.instances
        if i.cluster_id == svc.cluster_id
        and i.status == "ACTIVE"
        and i.agent_connected
        and i.gone_at is None
    ]
    if failure.resource in ("memory", "cpu"):
        unit, field_name = (
            ("MiB", "remaining_memory")
            if failure.resource == "memory"
            else ("CPU units", "remaining_cpu")
        )
        need = task_needs(td, failure.resource)
        free = max((getattr(i, field_name) for i in connected), default=0)
        evidence.update(requested=need, largest_free=free, unit=unit)
        asked = f"{need} {unit}" if need else f"the {failure.resource} it needs"
        what = "memory" if failure.resource == "memory" else "CPU"
        return (
            f"cannot place {name}: no instance has {asked} of {what} free "
            f"(largest free: {free} {unit})",
            evidence,
        )
    text = {
        "ports": f"the closest instance {failure.closest_instance} already uses a port it needs",
        "attribute": "no instance has an attribute it requires",
        "instances": "no container instance is registered in the cluster",
        "agent": "the closest instance's agent is disconnected",
    }.get(failure.resource, failure.message)
    return f"cannot place {name}: {text}", evidence


def task_needs(td: TaskDefinition | None, resource: str) -> int:
    """What one task asks for: the task-level size, else the sum over its containers
    (hard limit, else soft), as ECS reserves it."""
    if td is None:
        return 0
    task_level = td.memory if resource == "memory" else td.cpu
    if str(task_level).isdigit():
        return int(task_level)
    keys = ("memory", "memoryReservation") if resource == "memory" else ("cpu",)
    total = 0
    for c in td.containers or []:
        value = next((c.get(k) for k in keys if c.get(k)), 0)
        total += int(value or 0)
    return total


def _disconnected(count: int) -> list[Reason]:
    if not count:
        return []
    return [
        reason(
            "tasks-on-disconnected-instance",
            H.DEGRADED,
            f"{count} task{'s' if count > 1 else ''} on an instance whose agent is disconnected: "
            "they keep running but cannot be stopped or replaced until it reconnects",
            None,
            tasks=count,
        )
    ]
