"""Mirroring ECS's deployment history (service deployments and service revisions) at
the API minimum.

A service's history is listed (ListServiceDeployments) only when DescribeServices,
which the sync reads anyway, shows its deployments changed since the last listing:
a new deployment id or a rollout state change (``ServiceHistoryCursor`` keeps what
was seen), or when it was never listed. Only new or changed deployments are
described, 20 ARNs a call across the cluster's services; a revision is immutable and
described once ever. An unchanged fleet costs no call. AWS keeps 90 days; the mirror
keeps the rows as long as the service (``deployments.history`` does not prune them).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.aws.ecs import EcsReader, ServiceInfo
from clusters.aws.ecs_history_types import (
    IN_FLIGHT_STATUSES,
    ServiceDeploymentBrief,
    ServiceDeploymentInfo,
    ServiceRevisionInfo,
)
from clusters.aws.errors import AwsError, AwsPermanentError
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write
from clusters.models import Cluster
from deployments.models import (
    Service,
    ServiceDeployment,
    ServiceHistoryCursor,
    ServiceRevision,
    TaskDefinition,
)


def _snapshot(info: ServiceInfo) -> dict[str, str]:
    return {d.deployment_id: d.rollout_state for d in info.deployments}


def _changed(cursor: ServiceHistoryCursor | None, seen: dict[str, str]) -> bool:
    """A new deployment id or a rollout state change (a dropped one is not a change)."""
    if cursor is None:
        return True
    return any(cursor.seen.get(key) != state for key, state in seen.items())


def cluster_history_sync(
    *, cluster: Cluster, reader: EcsReader, stats: SyncStats, infos: list[ServiceInfo]
) -> None:
    """Mirror the history of the services in ``infos`` whose deployments changed."""
    ids = dict(
        Service.objects.filter(cluster=cluster, arn__in=[i.arn for i in infos]).values_list(
            "arn", "pk"
        )
    )
    cursors = {
        c.service_id: c for c in ServiceHistoryCursor.objects.filter(service_id__in=ids.values())
    }
    due = [i for i in infos if i.arn in ids and _changed(cursors.get(ids[i.arn]), _snapshot(i))]
    if not due:
        return
    known = {
        sd.arn: sd
        for sd in ServiceDeployment.objects.filter(service_id__in=[ids[i.arn] for i in due])
    }
    listed, wanted = _list(cluster, reader, stats, due, ids, known)
    try:
        described, revisions = _describe(reader, wanted)
    except AwsError as exc:
        stats.errors.append(f"deployment history of {cluster.name}: {exc}")
        return
    with transaction.atomic():
        _revisions_write(revisions, ids, stats)
        _deployments_write(described, known, ids, stats)
        _cursors_write(listed, ids, cursors)


def _list(
    cluster: Cluster,
    reader: EcsReader,
    stats: SyncStats,
    due: list[ServiceInfo],
    ids: dict[str, int],
    known: dict[str, ServiceDeployment],
) -> tuple[list[ServiceInfo], list[str]]:
    """List the due services' deployments (side by side on the reader's pool). Returns
    the services listed and the deployment ARNs to describe."""
    futures = [
        (
            info,
            reader.submit(
                reader.service_deployments,
                cluster.arn,
                info.arn,
                created_after=_window(known, ids[info.arn]),
            ),
        )
        for info in due
    ]
    listed: list[ServiceInfo] = []
    wanted: list[str] = []
    for info, future in futures:
        try:
            briefs: list[ServiceDeploymentBrief] = future.result()
        except AwsError as exc:
            stats.errors.append(f"ListServiceDeployments {info.name}: {exc}")
            # Refused (no permission, no such API): not again until its deployments
            # change, so an old IAM policy costs no call per sync. Transient: next sync.
            if isinstance(exc, AwsPermanentError):
                listed.append(info)
            continue
        listed.append(info)
        wanted += [b.arn for b in briefs if _describe_wanted(b, known.get(b.arn))]
    return listed, wanted


def _window(known: dict[str, ServiceDeployment], service_id: int) -> datetime | None:
    """List from the oldest deployment still in flight, else the newest one mirrored
    (a second early: inclusive either way); everything on a first listing."""
    rows = [
        (sd.created_at_aws, sd.status)
        for sd in known.values()
        if sd.service_id == service_id and sd.created_at_aws is not None
    ]
    flying = [at for at, status in rows if status in IN_FLIGHT_STATUSES]
    start = min(flying) if flying else max((at for at, _ in rows), default=None)
    return start - timedelta(seconds=1) if start else None


def _describe_wanted(brief: ServiceDeploymentBrief, row: ServiceDeployment | None) -> bool:
    """New, changed status, or in flight (its circuit breaker counts move)."""
    return row is None or row.status != brief.status or brief.status in IN_FLIGHT_STATUSES


def _describe(
    reader: EcsReader, arns: list[str]
) -> tuple[list[ServiceDeploymentInfo], list[ServiceRevisionInfo]]:
    """The deployments (20 a call), then the revisions they name not mirrored yet."""
    if not arns:
        return [], []
    described, _missing = reader.describe_service_deployments(arns)
    revs = {r.arn for d in described for r in [d.target, *d.sources] if r and r.arn}
    revs |= {d.rollback.revision_arn for d in described if d.rollback and d.rollback.revision_arn}
    revs -= set(ServiceRevision.objects.filter(arn__in=revs).values_list("arn", flat=True))
    if not revs:
        return described, []
    revisions, _missing = reader.describe_service_revisions(sorted(revs))
    return described, revisions


def _revisions_write(
    revisions: list[ServiceRevisionInfo], ids: dict[str, int], stats: SyncStats
) -> None:
    tds = dict(
        TaskDefinition.objects.filter(
            arn__in={r.task_definition_arn for r in revisions}
        ).values_list("arn", "pk")
    )
    rows = [
        ServiceRevision(
            arn=r.arn,
            service_id=ids[r.service_arn],
            task_definition_id=tds.get(r.task_definition_arn),
            task_definition_arn=r.task_definition_arn,
            container_images=[
                {"containerName": c.container_name, "image": c.image, "imageDigest": c.image_digest}
                for c in r.container_images
            ],
            launch_type=r.launch_type,
            service_registries=r.service_registries,
            service_connect=r.service_connect,
            created_at_aws=r.created_at,
        )
        for r in revisions
        if r.service_arn in ids
    ]
    if rows:
        ServiceRevision.objects.bulk_create(rows, ignore_conflicts=True)
        stats.created += len(rows)


def _deployment_values(d: ServiceDeploymentInfo) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "status": d.status,
        "status_reason": d.status_reason,
        "target_revision_arn": d.target.arn if d.target else "",
        "source_revision_arns": [s.arn for s in d.sources],
        "circuit_breaker": asdict(d.circuit_breaker) if d.circuit_breaker else None,
        "rollback": _rollback_json(d),
        "created_at_aws": d.created_at,
        "started_at": d.started_at,
        "finished_at": d.finished_at or d.stopped_at,
        "updated_at_aws": d.updated_at,
    }


def _rollback_json(d: ServiceDeploymentInfo) -> dict[str, Any] | None:
    if d.rollback is None:
        return None
    started = d.rollback.started_at
    return {
        "reason": d.rollback.reason,
        "startedAt": started.isoformat() if started else None,
        "serviceRevisionArn": d.rollback.revision_arn,
    }


def _deployments_write(
    described: list[ServiceDeploymentInfo],
    known: dict[str, ServiceDeployment],
    ids: dict[str, int],
    stats: SyncStats,
) -> None:
    now = timezone.now()
    new: list[ServiceDeployment] = []
    changed: list[tuple[Any, list[str]]] = []
    for d in described:
        row = known.get(d.arn)
        if row is None:
            if d.service_arn not in ids:
                continue
            row = ServiceDeployment(arn=d.arn, service_id=ids[d.service_arn], last_seen_at=now)
            changed_fields(row, _deployment_values(d))
            new.append(row)
        elif names := changed_fields(row, _deployment_values(d)):
            changed.append((row, names))
    mirror_write(ServiceDeployment, new=new, changed=changed, stats=stats, now=now)


def _cursors_write(
    listed: list[ServiceInfo], ids: dict[str, int], cursors: dict[int, ServiceHistoryCursor]
) -> None:
    now = timezone.now()
    for info in listed:
        cursor = cursors.get(ids[info.arn]) or ServiceHistoryCursor(service_id=ids[info.arn])
        cursor.seen = _snapshot(info)
        cursor.listed_at = now
        cursor.save()
