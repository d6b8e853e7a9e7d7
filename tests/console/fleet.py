"""Builders for mirrored fleet rows (the dashboard's crafted data and the big fleet)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone

from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.health import health_refresh
from deployments.models import Deployment, Service, Task, TaskContainer

_seq = itertools.count(1)
ACCOUNT_ID = "123456789012"


def health() -> int:
    """Re-evaluate the whole fleet's health, as the end of a sync and the 30 s beat
    do in production: the dashboard, alerts, pages and /metrics read what this
    stores, so a test that changes rows calls it before reading them."""
    return health_refresh()


def account(name: str = "prod", **kw: object) -> AwsAccount:
    return AwsAccount.objects.create(name=name, account_id=ACCOUNT_ID, regions=["us-east-1"], **kw)


def cluster(acct: AwsAccount | None = None, name: str = "", **kw: object) -> Cluster:
    acct = acct or AwsAccount.objects.first() or account()
    name = name or f"cluster-{next(_seq)}"
    region = str(kw.pop("region", "us-east-1"))
    defaults: dict[str, object] = {
        "last_sync_at": timezone.now(),
        "last_sync_ok": True,
        "status": "ACTIVE",
    }
    defaults.update(kw)
    return Cluster.objects.create(
        account=acct,
        region=region,
        name=name,
        arn=f"arn:aws:ecs:{region}:{ACCOUNT_ID}:cluster/{name}",
        **defaults,
    )


def service(
    c: Cluster, name: str = "", desired: int = 2, running: int | None = None, **kw: object
) -> Service:
    name = name or f"svc-{next(_seq)}"
    return Service.objects.create(
        cluster=c,
        name=name,
        arn=f"arn:aws:ecs:{c.region}:{ACCOUNT_ID}:service/{c.name}/{name}",
        status=str(kw.pop("status", "ACTIVE")),
        desired_count=desired,
        running_count=desired if running is None else running,
        **kw,
    )


def deployment(
    svc: Service,
    rollout: str = "COMPLETED",
    status: str = "PRIMARY",
    created: datetime | None = None,
    **kw: object,
) -> Deployment:
    created = created or timezone.now() - timedelta(minutes=2)
    updated: datetime = kw.pop("updated", created)  # type: ignore[assignment]
    return Deployment.objects.create(
        service=svc,
        deployment_id=f"ecs-svc/{next(_seq):019d}",
        status=status,
        rollout_state=rollout,
        desired_count=svc.desired_count,
        created_at_aws=created,
        updated_at_aws=updated,
        **kw,
    )


def instance(
    c: Cluster, connected: bool = True, status: str = "ACTIVE", **kw: object
) -> ContainerInstance:
    n = next(_seq)
    return ContainerInstance.objects.create(
        cluster=c,
        arn=f"arn:aws:ecs:{c.region}:{ACCOUNT_ID}:container-instance/{c.name}/{n:032x}",
        ec2_instance_id=str(kw.pop("ec2_instance_id", f"i-{n:017x}")),
        status=status,
        agent_connected=connected,
        **kw,
    )


def stopped_task(
    svc: Service, exit_code: int | None = 1, reason: str = "", stopped: datetime | None = None
) -> Task:
    n = next(_seq)
    stopped = stopped or timezone.now() - timedelta(minutes=5)
    task = Task.objects.create(
        cluster=svc.cluster,
        service=svc,
        arn=f"arn:aws:ecs:{svc.cluster.region}:{ACCOUNT_ID}:task/{svc.cluster.name}/{n:032x}",
        last_status="STOPPED",
        desired_status="STOPPED",
        stop_code="EssentialContainerExited",
        stopped_at=stopped,
    )
    TaskContainer.objects.create(task=task, name="app", exit_code=exit_code, reason=reason)
    return task


def big_fleet(*, services: int = 500, tasks: int = 5000, instances: int = 300) -> None:
    """A fleet for query-count and load tests, written with bulk_create."""
    now = timezone.now()
    acct = account("big")
    clusters = [
        Cluster(
            account=acct,
            region="us-east-1" if i % 2 else "eu-west-1",
            name=f"big-{i}",
            arn=f"arn:aws:ecs:region:{ACCOUNT_ID}:cluster/big-{i}",
            status="ACTIVE",
            last_sync_at=now,
            last_sync_ok=True,
            running_tasks_count=tasks // 10,
        )
        for i in range(10)
    ]
    Cluster.objects.bulk_create(clusters)
    clusters = list(Cluster.objects.filter(account=acct).order_by("id"))
    svcs = [
        Service(
            cluster=clusters[i % 10],
            name=f"svc-{i}",
            arn=f"arn:aws:ecs:region:{ACCOUNT_ID}:service/big/svc-{i}",
            status="ACTIVE",
            desired_count=10,
            running_count=10 if i % 7 else 8,
            pending_count=0,
        )
        for i in range(services)
    ]
    Service.objects.bulk_create(svcs, batch_size=500)
    svcs = list(Service.objects.filter(cluster__account=acct).order_by("id"))
    Deployment.objects.bulk_create(
        [
            Deployment(
                service=s,
                deployment_id=f"ecs-svc/big-{s.pk}-{k}",
                status="PRIMARY" if k else "INACTIVE",
                rollout_state=("FAILED" if s.pk % 50 == 0 else "COMPLETED") if k else "COMPLETED",
                created_at_aws=now - timedelta(hours=3 - k),
                updated_at_aws=now - timedelta(hours=3 - k),
            )
            for s in svcs
            for k in (0, 1)
        ],
        batch_size=500,
    )
    ContainerInstance.objects.bulk_create(
        [
            ContainerInstance(
                cluster=clusters[i % 10],
                arn=f"arn:aws:ecs:region:{ACCOUNT_ID}:container-instance/big/{i:032x}",
                ec2_instance_id=f"i-{i:017x}",
                status="DRAINING" if i % 50 == 0 else "ACTIVE",
                agent_connected=i % 60 != 0,
                agent_connected_changed_at=now - timedelta(hours=1),
                is_external=i % 3 == 0,
            )
            for i in range(instances)
        ],
        batch_size=500,
    )
    cis = list(ContainerInstance.objects.filter(cluster__account=acct).order_by("id"))
    Task.objects.bulk_create(
        [
            Task(
                cluster=clusters[i % 10],
                service=svcs[i % len(svcs)],
                container_instance=cis[i % len(cis)],
                arn=f"arn:aws:ecs:region:{ACCOUNT_ID}:task/big/{i:032x}",
                last_status="STOPPED" if i % 25 == 0 else "RUNNING",
                desired_status="RUNNING",
                stopped_at=now - timedelta(minutes=i % 120) if i % 25 == 0 else None,
                started_at=now - timedelta(hours=2),
            )
            for i in range(tasks)
        ],
        batch_size=1000,
    )
    task_ids = list(
        Task.objects.filter(cluster__account=acct).order_by("id").values_list("id", "last_status")
    )
    TaskContainer.objects.bulk_create(
        [
            TaskContainer(
                task_id=tid,
                name="app",
                exit_code=(137 if tid % 2 else 1) if status == "STOPPED" else None,
                reason="OutOfMemoryError: Container killed due to memory usage"
                if status == "STOPPED" and tid % 2
                else "",
            )
            for tid, status in task_ids
        ],
        batch_size=1000,
    )
