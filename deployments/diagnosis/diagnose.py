"""The matcher over the mirror: ``task_diagnose``, ``services_diagnose`` (and
``service_diagnose``), ``instance_diagnose`` and ``activation_diagnose``. Each runs
a fixed number of queries, whatever the number of subjects."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from clusters.display import timestamp_text
from clusters.health import is_unhealthy
from clusters.models import Activation, ContainerInstance, InstanceAdmission
from deployments.diagnosis.catalogue import Entry, Signal, catalogue, entry_for
from deployments.diagnosis.evidence import (
    LABELS,
    PLACEMENT_KEYS,
    TASK_EVIDENCE,
    memory_limit_words,
)
from deployments.health.facts import FAILED_TASKS_WINDOW
from deployments.models import Service, Task, TaskContainer
from deployments.selectors import service_recent_stops

# How many of a service's newest stopped tasks its diagnosis reads ("4 of the last 5").
SERVICE_SAMPLE = 5


@dataclass(frozen=True)
class Diagnosis:
    code: str
    title: str
    cause: str
    fix: str
    docs_url: str
    problem: bool
    summary: str  # one line, with the numbers: what the dashboard and alerts show
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def evidence_rows(self) -> list[tuple[str, str]]:
        """The evidence as (label, text) rows for a page."""
        rows = []
        for key, value in self.evidence.items():
            label = LABELS.get(key, key.replace("_", " ").capitalize())
            if label and value not in (None, "", []):
                rows.append((label, _text(value)))
        return rows

    def as_dict(self) -> dict[str, Any]:
        """The API's ``diagnosis`` object."""
        return {
            "code": self.code,
            "title": self.title,
            "cause": self.cause,
            "fix": self.fix,
            "evidence": self.evidence,
            "docs_url": self.docs_url,
        }


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return timestamp_text(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _diagnosis(entry: Entry, summary: str, evidence: dict[str, Any]) -> Diagnosis:
    return Diagnosis(
        entry.code,
        entry.title,
        entry.cause,
        entry.fix,
        entry.docs_url,
        entry.problem,
        summary,
        evidence,
    )


def _rank(entry: Entry) -> int:
    return catalogue().index(entry)


def _task_match(
    task: Task, containers: Sequence[TaskContainer]
) -> tuple[Entry, TaskContainer | None] | None:
    """The most specific entry any of the task's containers (or the task alone) matches."""
    found: list[tuple[Entry, TaskContainer | None]] = []
    for c in containers:
        signal = Signal(task.stop_code, task.stopped_reason, c.reason, c.exit_code)
        entry = entry_for(signal)
        if entry is not None:
            found.append((entry, c))
    entry = entry_for(Signal(task.stop_code, task.stopped_reason))
    if entry is not None:
        found.append((entry, containers[0] if len(containers) == 1 else None))
    return min(found, key=lambda f: _rank(f[0])) if found else None


def task_diagnose(
    task: Task, *, containers: Sequence[TaskContainer] | None = None
) -> Diagnosis | None:
    """Why a stopped (or stopping) task stopped; None for a task still running.
    Queries: its containers unless given, and one more for an OOM kill of a
    service's task (how many of its recent tasks died the same way)."""
    if task.last_status not in ("STOPPED", "DEACTIVATING", "STOPPING") and not task.stop_code:
        return None
    rows = list(task.containers.all()) if containers is None else list(containers)
    match = _task_match(task, rows)
    if match is None:
        return None
    entry, container = match
    builder = TASK_EVIDENCE.get(entry.evidence)
    evidence = builder(task, container) if builder else {}
    if container is not None:
        evidence.setdefault("container", container.name)
        evidence["exit_code"] = container.exit_code
    summary = entry.title
    if entry.evidence == "memory":
        summary = f"OOM-killed: {memory_limit_words(evidence)}"
        if task.service_id is not None:
            recent = service_recent_stops(task.service)  # type: ignore[arg-type]
            evidence.update(same_way=recent["oom"], recent_tasks=recent["tasks"])
    return _diagnosis(entry, summary, evidence)


def service_diagnose(service: Service) -> Diagnosis | None:
    return services_diagnose([service]).get(service.pk)


def services_diagnose(services: Iterable[Service]) -> dict[int, Diagnosis]:
    """Per unhealthy service (the stored health says so: one truth), the diagnosis
    of what is wrong: a placement failure from its ``cannot-place`` reason, else the
    most common cause among its newest stopped tasks of the last hour. One query
    for any number of services."""
    subjects = [s for s in services if is_unhealthy(s.health_state)]
    out: dict[int, Diagnosis] = {}
    rest = []
    for svc in subjects:
        placed = _placement(svc)
        if placed is not None:
            out[svc.pk] = placed
        else:
            rest.append(svc)
    for svc_id, tasks in _recent_stopped(rest).items():
        found = _aggregate(tasks)
        if found is not None:
            out[svc_id] = found
    return out


def _placement(svc: Service) -> Diagnosis | None:
    reason = next((r for r in svc.health_reasons or [] if r.get("code") == "cannot-place"), None)
    if reason is None:
        return None
    evidence = {k: reason["evidence"].get(k) for k in PLACEMENT_KEYS if k in reason["evidence"]}
    entry = entry_for(Signal(event=str(evidence.get("event", ""))))
    if entry is None:
        return None
    return _diagnosis(entry, reason["message"], evidence)


Stopped = tuple[Task, list[TaskContainer]]


def _recent_stopped(services: list[Service]) -> dict[int, list[Stopped]]:
    """Per service, its newest SERVICE_SAMPLE stopped tasks of the last hour with
    their containers: one query (containers joined to their tasks), so the count
    does not depend on whether any task stopped."""
    if not services:
        return {}
    since = timezone.now() - FAILED_TASKS_WINDOW
    rows = (
        TaskContainer.objects.filter(
            task__service__in=services, task__last_status="STOPPED", task__stopped_at__gte=since
        )
        .select_related("task", "task__task_definition")
        .order_by("task__service_id", "-task__stopped_at", "-task_id", "name")
    )
    tasks: dict[int, Stopped] = {}
    by_service: dict[int, list[Stopped]] = defaultdict(list)
    for container in rows:
        task = container.task
        if task.pk not in tasks:
            sample = by_service[task.service_id]  # type: ignore[index]
            if len(sample) >= SERVICE_SAMPLE:
                continue
            tasks[task.pk] = (task, [])
            sample.append(tasks[task.pk])
        tasks[task.pk][1].append(container)
    return dict(by_service)


def _aggregate(stopped: list[Stopped]) -> Diagnosis | None:
    """'4 of the last 5 tasks were OOM-killed: container web hits its 128 MiB limit'."""
    found: list[tuple[Entry, Task, TaskContainer | None]] = []
    for task, containers in stopped:
        match = _task_match(task, containers)
        if match is not None and match[0].problem:
            found.append((match[0], task, match[1]))
    if not found:
        return None
    counts = Counter(e.code for e, _, _ in found)
    code, n = counts.most_common(1)[0]
    entry, task, container = next(f for f in found if f[0].code == code)
    builder = TASK_EVIDENCE.get(entry.evidence)
    evidence = builder(task, container) if builder else {}
    ids = [t.short_id for e, t, _ in found if e is entry]
    evidence.update(tasks=n, of=len(stopped), task_ids=ids)
    head = f"{n} of the last {len(stopped)} task{'s' if len(stopped) > 1 else ''}"
    if entry.evidence == "memory":
        summary = f"{head} were OOM-killed: {memory_limit_words(evidence)}"
    else:
        summary = f"{head} stopped for the same reason: {entry.title}"
    return _diagnosis(entry, summary, evidence)


def instance_diagnose(instance: ContainerInstance) -> Diagnosis | None:
    """An external instance: its agent disconnected, an error its admission
    recorded, or a second registration of the same machine. At most three queries."""
    if not instance.is_external or instance.is_gone:
        return None
    admission = InstanceAdmission.objects.filter(container_instance=instance).first()
    signal = Signal(
        agent_state="DISCONNECTED"
        if (instance.status == "ACTIVE" and not instance.agent_connected)
        else "CONNECTED",
        agent_error=admission.error_message if admission else "",
        activation_state="reused" if admission and _twins(admission) else "",
    )
    entry = entry_for(signal)
    if entry is None:
        return None
    evidence = _instance_evidence(instance, admission, entry)
    return _diagnosis(entry, entry.title, evidence)


def _twins(admission: InstanceAdmission) -> list[str]:
    """Other managed instances of the same machine (hostname) and activation."""
    if not admission.hostname or not admission.activation_aws_id:
        return []
    return list(
        InstanceAdmission.objects.filter(
            cluster_id=admission.cluster_id,
            activation_aws_id=admission.activation_aws_id,
            hostname=admission.hostname,
        )
        .exclude(pk=admission.pk)
        .values_list("managed_instance_id", flat=True)
    )


def _instance_evidence(
    instance: ContainerInstance, admission: InstanceAdmission | None, entry: Entry
) -> dict[str, Any]:
    if entry.evidence == "agent":
        return {
            "agent_connected": instance.agent_connected,
            "disconnected_since": instance.agent_connected_changed_at,
            "agent_version": instance.agent_version,
            "running_tasks": instance.tasks.filter(last_status="RUNNING").count(),
        }
    evidence: dict[str, Any] = {
        "activation_id": admission.activation_aws_id if admission else "",
        "hostname": admission.hostname if admission else "",
    }
    if admission is not None and entry.code == "anywhere-activation-reused":
        evidence["other_registrations"] = _twins(admission)
    return evidence


def activation_diagnose(activation: Activation) -> Diagnosis | None:
    """An activation no machine can register with any more (expired, limit reached)."""
    entry = entry_for(Signal(activation_state=activation.current_state()))
    if entry is None:
        return None
    evidence = {
        "activation_id": activation.activation_id,
        "iam_role": activation.iam_role,
        "registration_limit": activation.registration_limit,
        "registrations_count": activation.registrations_count,
        "expires_at": activation.expires_at,
    }
    return _diagnosis(entry, entry.title, evidence)
