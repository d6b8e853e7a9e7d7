"""Read queries for the infrastructure pages; each runs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from clusters.models import AwsAccount, Cluster, ContainerInstance, SyncRun

PAGE_SIZE = 50


@dataclass(frozen=True)
class AccountRow:
    account: AwsAccount
    clusters: list[Cluster]
    last_run: SyncRun | None


def clusters_overview() -> list[AccountRow]:
    """Accounts with their clusters (counts, instance health) and each account's
    newest account-level sync run. Three queries, however many runs are kept."""
    clusters = list(
        Cluster.objects.select_related("account")
        .annotate(
            instances_live=Count("instances", filter=Q(instances__gone_at__isnull=True)),
            instances_disconnected=Count(
                "instances",
                filter=Q(instances__gone_at__isnull=True, instances__agent_connected=False),
            ),
            instances_draining=Count(
                "instances",
                filter=Q(instances__gone_at__isnull=True, instances__status="DRAINING"),
            ),
        )
        .order_by("account__name", "gone_at", "region", "name")
    )
    # Only the newest run of each account: an index probe each (syncrun_account_recent_idx),
    # where loading every kept run (a week of runs every 30 s) would grow without bound.
    newest = SyncRun.objects.filter(account=OuterRef("pk"), cluster__isnull=True).order_by(
        "-started_at", "-id"
    )
    accounts = list(
        AwsAccount.objects.annotate(last_run_id=Subquery(newest.values("pk")[:1])).order_by("name")
    )
    runs = SyncRun.objects.in_bulk([a.last_run_id for a in accounts if a.last_run_id])
    return [
        AccountRow(
            account=a,
            clusters=[c for c in clusters if c.account_id == a.pk],
            last_run=runs.get(a.last_run_id),
        )
        for a in accounts
    ]


def instances_query(
    *, cluster: Cluster | None = None, status: str = "", q: str = "", kind: str = ""
) -> QuerySet[ContainerInstance]:
    # admission and docker_hosts: the machine's hostname and IP (ContainerInstance.hostname)
    qs = ContainerInstance.objects.select_related(
        "cluster", "cluster__account", "admission"
    ).prefetch_related("docker_hosts")
    if cluster is not None:
        qs = qs.filter(cluster=cluster)
    if status == "gone":
        qs = qs.filter(gone_at__isnull=False)
    elif status == "disconnected":
        qs = qs.filter(gone_at__isnull=True, agent_connected=False)
    elif status:
        qs = qs.filter(gone_at__isnull=True, status=status.upper())
    if kind == "external":
        qs = qs.filter(is_external=True)
    elif kind == "ec2":
        qs = qs.filter(is_external=False)
    if q:
        qs = qs.filter(
            Q(ec2_instance_id__icontains=q)
            | Q(arn__icontains=q)
            | Q(admission__hostname__icontains=q)
            | Q(admission__ip_address__icontains=q)
        )
    return qs.order_by("gone_at", "cluster__name", "ec2_instance_id", "id")


def paginate(qs: Any, page: str | None, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(qs, per_page).get_page(page)
