"""Keeping each external instance's registered intervals, from what the mirror sees.

ECS Anywhere bills an external instance from registration to deregistration. ECS
says when it registered (``registeredAt``) but not when it left: a deregistered
instance is described as INACTIVE for a while, then no longer listed. The interval
therefore closes at the first sight of either (the mirror marks it ``gone_at``),
or when a decommission deregistered it. No AWS call here: this reads the mirror.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from clusters.models import Cluster, ContainerInstance, InstanceRegistration

DEREGISTERED = "INACTIVE"


def _is_registered(ci: ContainerInstance) -> bool:
    return ci.gone_at is None and ci.status != DEREGISTERED


def registrations_record(*, cluster: Cluster, now: datetime) -> int:
    """Bring the cluster's intervals in line with its mirrored external instances:
    open one for a registered instance without one, note what was seen on the open
    ones, close those whose instance is INACTIVE or gone. Idempotent; returns the
    number of intervals opened or closed."""
    instances = list(
        ContainerInstance.objects.filter(cluster=cluster, is_external=True).only(
            "pk", "status", "gone_at", "registered_at", "first_seen_at", "last_seen_at"
        )
    )
    if not instances:
        return 0
    open_by_instance = {
        r.instance_id: r
        for r in InstanceRegistration.objects.filter(cluster=cluster, deregistered_at__isnull=True)
    }
    missing = [ci for ci in instances if _is_registered(ci) and ci.pk not in open_by_instance]
    ended = [
        open_by_instance[ci.pk]
        for ci in instances
        if not _is_registered(ci) and ci.pk in open_by_instance
    ]
    by_pk = {ci.pk: ci for ci in instances}
    with transaction.atomic():
        _note_seen(open_by_instance, by_pk, now)
        opened = _open(cluster, missing, now)
        for reg in ended:
            ci = by_pk[reg.instance_id]
            reg.deregistered_at = ci.gone_at or now
            reg.closed_by = InstanceRegistration.ClosedBy.MIRROR
        InstanceRegistration.objects.bulk_update(ended, ["deregistered_at", "closed_by"])
    return opened + len(ended)


def _note_seen(
    open_by_instance: dict[int, InstanceRegistration],
    by_pk: dict[int, ContainerInstance],
    now: datetime,
) -> None:
    """What the mirror saw while registered: a status change (noted with when it was
    seen) and a start learnt late. Only the rows that changed are written: this runs
    after every instance sync, and an unchanged fleet writes nothing."""
    seen = [pk for pk, ci in by_pk.items() if _is_registered(ci) and pk in open_by_instance]
    changed = []
    for pk in seen:
        reg, ci = open_by_instance[pk], by_pk[pk]
        # registeredAt learnt after the interval opened (a row another path created
        # before the mirror described it) corrects the start.
        start = ci.registered_at or reg.registered_at
        if reg.last_status != ci.status or reg.registered_at != start:
            reg.last_status, reg.registered_at, reg.last_seen_at = ci.status, start, now
            changed.append(reg)
    InstanceRegistration.objects.bulk_update(
        changed, ["last_status", "registered_at", "last_seen_at"]
    )


def _open(cluster: Cluster, missing: list[ContainerInstance], now: datetime) -> int:
    """An interval for each registered instance without an open one. An instance
    whose interval was closed and that is listed as registered again under the same
    ARN never left (an ARN is one registration: a machine that registers again gets
    a new one), so its last interval is reopened rather than counted twice."""
    if not missing:
        return 0
    reopen = {}
    for reg in InstanceRegistration.objects.filter(instance__in=missing).order_by(
        "registered_at", "id"
    ):
        reopen[reg.instance_id] = reg
    new = []
    for ci in missing:
        if ci.pk in reopen:
            reg = reopen[ci.pk]
            reg.deregistered_at = None
            reg.closed_by = InstanceRegistration.ClosedBy.OPEN
            reg.last_seen_at = now
            reg.save(update_fields=["deregistered_at", "closed_by", "last_seen_at"])
            continue
        new.append(
            InstanceRegistration(
                instance=ci,
                account_id=cluster.account_id,
                cluster=cluster,
                region=cluster.region,
                registered_at=ci.registered_at or ci.first_seen_at,
                last_seen_at=now,
                last_status=ci.status,
            )
        )
    InstanceRegistration.objects.bulk_create(new)
    return len(missing)


def registration_close(*, instance_arn: str, at: datetime) -> int:
    """A decommission deregistered the instance at ``at``: its interval ends there."""
    return InstanceRegistration.objects.filter(
        instance__arn=instance_arn, deregistered_at__isnull=True
    ).update(deregistered_at=at, closed_by=InstanceRegistration.ClosedBy.DECOMMISSION)
