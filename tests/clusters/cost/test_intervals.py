"""The mirror keeps each external instance's registered intervals, against the
sandbox's demo fleet (edge machines registered days apart): one open interval per
instance from ECS's registeredAt, idempotent, closed when ECS says INACTIVE."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from clusters.aws import ecs_instances
from clusters.cost import cost_bill
from clusters.models import AwsAccount, Cluster, ContainerInstance, InstanceRegistration
from deployments.sync import account_sync
from tests.clusters.cost.helpers import demo_synced

pytestmark = pytest.mark.django_db(transaction=True)


def test_mirror_opens_one_interval_per_external_instance_from_registered_at(sandbox) -> None:  # type: ignore[no-untyped-def]
    demo_synced(sandbox)
    externals = ContainerInstance.objects.filter(is_external=True)
    assert externals.count() == 7
    intervals = InstanceRegistration.objects.select_related("instance")
    assert intervals.count() == 7
    assert not ContainerInstance.objects.filter(is_external=False, registrations__isnull=False)
    now = timezone.now()
    ages = sorted(round((now - r.registered_at) / timedelta(days=1), 1) for r in intervals)
    # sandbox/seed.py's EDGE_AGES_DAYS (+ the ~40 min the seed writes its history over).
    assert ages == pytest.approx([0.5, 2.5, 9.0, 12.0, 20.0, 33.0, 45.0], abs=0.11)
    for r in intervals:
        assert r.registered_at == r.instance.registered_at  # ECS's registeredAt
        assert r.deregistered_at is None and r.region == r.instance.cluster.region
    # A second sync changes no interval (idempotent): nothing changed, nothing written.
    before = {r.pk: r.last_seen_at for r in intervals}
    account_sync(account_id=AwsAccount.objects.get().pk)
    after = {r.pk: r.last_seen_at for r in InstanceRegistration.objects.all()}
    assert set(after) == set(before)
    assert after == before


def test_a_deregistered_instance_is_closed_by_the_next_sync_and_stops_adding(sandbox) -> None:  # type: ignore[no-untyped-def]
    account = demo_synced(sandbox)
    edge = Cluster.objects.get(name="onprem-edge", region="eu-west-1")
    ci = ContainerInstance.objects.filter(cluster=edge).order_by("registered_at").first()
    assert ci is not None
    ecs_instances.deregister_container_instance(
        account=account, region=edge.region, cluster_arn=edge.arn, container_instance_arn=ci.arn
    )
    synced_before = timezone.now()
    account_sync(account_id=account.pk)
    interval = InstanceRegistration.objects.get(instance=ci)
    assert interval.closed_by == "mirror"
    assert interval.deregistered_at is not None and interval.deregistered_at >= synced_before
    assert InstanceRegistration.objects.filter(deregistered_at__isnull=True).count() == 6
    # Its cost no longer grows with the clock.
    now = timezone.now()
    month = date(now.year, now.month, 1)
    later = now + timedelta(hours=5)
    lines = [
        line
        for when in (now, later)
        for line in cost_bill(month=month, now=when).lines
        if line.span.instance_arn == ci.arn
    ]
    if lines:  # registered last month and deregistered in the first minutes of this one
        assert lines[0].cost == lines[-1].cost
    account_sync(account_id=account.pk)  # idempotent: still one interval, still closed
    assert InstanceRegistration.objects.filter(instance=ci).count() == 1
