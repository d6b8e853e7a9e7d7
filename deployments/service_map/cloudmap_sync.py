"""Cloud Map mirrored at the API minimum.

The catalogue (namespaces and their services) changes rarely: it is listed on a slow
schedule (``FLEETDECK_CLOUDMAP_CATALOG_INTERVAL_SECONDS``, 15 minutes) and once when an
account's region has never been listed. Instances and their health change with every
deployment: they are listed on the sync cadence, but only for the Cloud Map services of
the namespaces that mirrored ECS services use. Writes are incremental: upsert by id, only
changed rows, mark gone (never delete) after a complete listing; a failed listing
raises before anything is written, so the mirror forgets nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clusters.aws.cloudmap import (
    CloudMapServiceInfo,
    cloudmap_catalog_list,
    cloudmap_instances_list,
)
from clusters.mirror.writes import SyncStats, changed_fields, mirror_write
from clusters.models import AwsAccount
from deployments.models import (
    CloudMapInstance,
    CloudMapListing,
    CloudMapNamespace,
    CloudMapService,
    Service,
)


def cloudmap_catalog_sync(*, account_id: int, region: str) -> SyncStats | None:
    """List every namespace and Cloud Map service of the region (two paginated
    listings) and mirror them. None when the account is gone or disabled."""
    account = AwsAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return None
    namespaces, services = cloudmap_catalog_list(account=account, region=region)
    now = timezone.now()
    stats = SyncStats()
    with transaction.atomic():
        ns_ids = _namespaces_write(account, region, namespaces, stats, now)
        _services_write(services, ns_ids, stats, now)
        CloudMapListing.objects.update_or_create(
            account=account, region=region, defaults={"listed_at": now}
        )
    return stats


def _namespaces_write(
    account: AwsAccount, region: str, infos: list[Any], stats: SyncStats, now: datetime
) -> dict[str, int]:
    existing = {
        n.namespace_id: n for n in CloudMapNamespace.objects.filter(account=account, region=region)
    }
    new: list[CloudMapNamespace] = []
    changed: list[tuple[CloudMapNamespace, list[str]]] = []
    for info in infos:
        values = {
            "arn": info.arn,
            "name": info.name,
            "type": info.type,
            "created_at_aws": info.created_at,
            "gone_at": None,
        }
        row = existing.get(info.namespace_id)
        if row is None:
            new.append(
                CloudMapNamespace(
                    account=account, region=region, namespace_id=info.namespace_id, **values
                )
            )
        elif names := changed_fields(row, values):
            changed.append((row, names))
    mirror_write(CloudMapNamespace, new=new, changed=changed, stats=stats, now=now)
    seen = {i.namespace_id for i in infos}
    stats.gone += (
        CloudMapNamespace.objects.filter(account=account, region=region, gone_at__isnull=True)
        .exclude(namespace_id__in=seen)
        .update(gone_at=now)
    )
    return dict(
        CloudMapNamespace.objects.filter(account=account, region=region).values_list(
            "namespace_id", "pk"
        )
    )


def _services_write(
    infos: list[CloudMapServiceInfo], ns_ids: dict[str, int], stats: SyncStats, now: datetime
) -> None:
    existing = {
        s.service_id: s for s in CloudMapService.objects.filter(namespace_id__in=ns_ids.values())
    }
    new: list[CloudMapService] = []
    changed: list[tuple[CloudMapService, list[str]]] = []
    seen: set[str] = set()
    for info in infos:
        if info.namespace_id not in ns_ids:
            continue  # a namespace listed after ListNamespaces answered; next time
        seen.add(info.service_id)
        values = {
            "namespace_id": ns_ids[info.namespace_id],
            "arn": info.arn,
            "name": info.name,
            "dns_records": info.dns_records,
            "has_health_check": info.has_health_check,
            "gone_at": None,
        }
        row = existing.get(info.service_id)
        if row is None:
            new.append(CloudMapService(service_id=info.service_id, **values))
        elif names := changed_fields(row, values):
            changed.append((row, names))
    mirror_write(CloudMapService, new=new, changed=changed, stats=stats, now=now)
    stats.gone += (
        CloudMapService.objects.filter(namespace_id__in=ns_ids.values(), gone_at__isnull=True)
        .exclude(service_id__in=seen)
        .update(gone_at=now)
    )


def namespaces_in_use(*, account_id: int, region: str) -> list[CloudMapNamespace]:
    """The mirrored namespaces that live ECS services of the account's region use:
    through Service Connect (by ARN or name; the cluster's default when the service
    names none) or through a service registry (a Cloud Map service's ARN)."""
    refs: set[str] = set()
    registries: set[str] = set()
    services = Service.objects.filter(
        cluster__account_id=account_id, cluster__region=region, gone_at__isnull=True
    ).select_related("cluster")
    for svc in services:
        connect = svc.service_connect_configuration or {}
        if connect.get("enabled"):
            ref = connect.get("namespace") or svc.cluster.service_connect_defaults.get("namespace")
            if ref:
                refs.add(str(ref))
        registries.update(str(r.get("registryArn") or "") for r in svc.service_registries)
    live = CloudMapNamespace.objects.filter(
        account_id=account_id, region=region, gone_at__isnull=True
    )
    by_registry = set(
        CloudMapService.objects.filter(arn__in=registries).values_list("namespace_id", flat=True)
    )
    return [n for n in live if n.arn in refs or n.name in refs or n.pk in by_registry]


def cloudmap_instances_sync(*, account_id: int, region: str) -> SyncStats | None:
    """Instances and health of the Cloud Map services in the namespaces in use. Lists
    the catalogue first only when this region was never listed."""
    account = AwsAccount.objects.filter(pk=account_id, enabled=True).first()
    if account is None:
        return None
    stats = SyncStats()
    if not CloudMapListing.objects.filter(account=account, region=region).exists():
        stats.add(cloudmap_catalog_sync(account_id=account_id, region=region) or SyncStats())
    namespaces = namespaces_in_use(account_id=account_id, region=region)
    services = CloudMapService.objects.filter(namespace__in=namespaces, gone_at__isnull=True)
    for row in services:
        info = CloudMapServiceInfo(
            service_id=row.service_id,
            arn=row.arn,
            name=row.name,
            namespace_id="",
            has_health_check=row.has_health_check,
        )
        listed = cloudmap_instances_list(account=account, region=region, service=info)
        _instances_write(row, listed, stats)
    return stats


def _instances_write(service: CloudMapService, infos: list[Any], stats: SyncStats) -> None:
    now = timezone.now()
    existing = {i.instance_id: i for i in service.instances.all()}
    new: list[CloudMapInstance] = []
    changed: list[tuple[CloudMapInstance, list[str]]] = []
    for info in infos:
        values = {"attributes": info.attributes, "health": info.health, "gone_at": None}
        row = existing.get(info.instance_id)
        if row is None:
            new.append(CloudMapInstance(service=service, instance_id=info.instance_id, **values))
        elif names := changed_fields(row, values):
            changed.append((row, names))
    with transaction.atomic():
        mirror_write(CloudMapInstance, new=new, changed=changed, stats=stats, now=now)
        stats.gone += (
            service.instances.filter(gone_at__isnull=True)
            .exclude(instance_id__in=[i.instance_id for i in infos])
            .update(gone_at=now)
        )
