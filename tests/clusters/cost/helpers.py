"""Registered intervals of external instances at known times."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, ContainerInstance, InstanceRegistration
from deployments.sync import account_sync
from tests.console import fleet

_seq = itertools.count(1)


def external(
    c: Cluster, registered: datetime, deregistered: datetime | None = None
) -> ContainerInstance:
    """An external (mi-) instance and its one registered interval."""
    n = next(_seq)
    ci = fleet.instance(
        c,
        ec2_instance_id=f"mi-{n:017x}",
        is_external=True,
        registered_at=registered,
        status="INACTIVE" if deregistered else "ACTIVE",
    )
    InstanceRegistration.objects.create(
        instance=ci,
        account=c.account,
        cluster=c,
        region=c.region,
        registered_at=registered,
        deregistered_at=deregistered,
        closed_by="decommission" if deregistered else "",
        last_seen_at=deregistered or registered,
        last_status=ci.status,
    )
    return ci


def demo_synced(sandbox: Any) -> AwsAccount:
    """The sandbox's demo fleet (both regions), mirrored by one account sync."""
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo",
        regions=["us-east-1", "eu-west-1"],
        auth_mode="endpoint",
        endpoint_url=sandbox.url,
    )
    assert account_sync(account_id=account.pk) is not None
    return account
