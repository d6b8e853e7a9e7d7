"""The health model on the sandbox's demo fleet, synced through the real adapter."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.models import Service
from deployments.sync import account_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(sandbox: Any) -> AwsAccount:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo",
        regions=["us-east-1", "us-west-2"],
        auth_mode="endpoint",
        endpoint_url=sandbox.url,
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    return account


def test_demo(demo: AwsAccount) -> None:
    for s in Service.objects.select_related("cluster"):
        print(s.cluster.name, s.name, s.health_state, [r["message"] for r in s.health_reasons])
    for i in ContainerInstance.objects.all():
        print(i, i.health_state, [r["message"] for r in i.health_reasons])
    for c in Cluster.objects.all():
        print(c, c.health_state, [r["message"] for r in c.health_reasons])
    demo.refresh_from_db()
    print(demo.health_state, demo.health_reasons)
    assert 0
