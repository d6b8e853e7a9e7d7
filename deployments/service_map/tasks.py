"""Cloud Map mirror tasks: thin wrappers over ``cloudmap_sync``, fanned out per
(account, region) that has clusters; retried only on transient AWS errors."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.app.task import Task as CeleryTask
from django.db.models import Q

from clusters.aws.errors import AwsPermanentError, AwsTransientError
from clusters.core.jobs import job_enqueue, task_retry
from clusters.models import Cluster
from deployments.models import Service
from deployments.service_map.cloudmap_sync import cloudmap_catalog_sync, cloudmap_instances_sync

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


def _regions(*, in_use_only: bool) -> list[tuple[int, str]]:
    if not in_use_only:
        clusters = Cluster.objects.filter(account__enabled=True, gone_at__isnull=True)
        return sorted(set(clusters.values_list("account_id", "region")))
    # Only where a live service uses Service Connect or a service registry.
    services = Service.objects.filter(
        Q(service_connect_configuration__enabled=True) | ~Q(service_registries=[]),
        gone_at__isnull=True,
        cluster__gone_at__isnull=True,
        cluster__account__enabled=True,
    )
    pairs = services.values_list("cluster__account_id", "cluster__region")
    return sorted({(int(account_id), str(region)) for account_id, region in pairs})


@shared_task(name="deployments.service_map.tasks.cloudmap_catalog_all", ignore_result=True)
def cloudmap_catalog_all() -> int:
    pairs = _regions(in_use_only=False)
    for account_id, region in pairs:
        job_enqueue("deployments.service_map.tasks.cloudmap_catalog", account_id, region)
    return len(pairs)


@shared_task(name="deployments.service_map.tasks.cloudmap_instances_all", ignore_result=True)
def cloudmap_instances_all() -> int:
    pairs = _regions(in_use_only=True)
    for account_id, region in pairs:
        job_enqueue("deployments.service_map.tasks.cloudmap_instances", account_id, region)
    return len(pairs)


def _run(task: CeleryTask, fn: object, account_id: int, region: str) -> None:
    try:
        fn(account_id=account_id, region=region)  # type: ignore[operator]
    except AwsTransientError as exc:
        if task.request.retries < MAX_RETRIES:
            task_retry(task, exc=exc, countdown=random.uniform(1, 2 ** (task.request.retries + 2)))
    except AwsPermanentError as exc:  # e.g. no servicediscovery permission: the map says so
        logger.warning("Cloud Map listing failed for account %s %s: %s", account_id, region, exc)


@shared_task(
    bind=True,
    name="deployments.service_map.tasks.cloudmap_catalog",
    ignore_result=True,
    max_retries=MAX_RETRIES,
)
def cloudmap_catalog(self: CeleryTask, account_id: int, region: str) -> None:
    _run(self, cloudmap_catalog_sync, account_id, region)


@shared_task(
    bind=True,
    name="deployments.service_map.tasks.cloudmap_instances",
    ignore_result=True,
    max_retries=MAX_RETRIES,
)
def cloudmap_instances(self: CeleryTask, account_id: int, region: str) -> None:
    _run(self, cloudmap_instances_sync, account_id, region)
