"""Review findings on the health model: a cluster AWS deleted, or of a disabled
account, takes its services and instances out of "Needs attention", and a refresh
that read the rows before another one wrote them does not overwrite the newer
verdict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, Event, EventSource
from console.dashboard.rules import needs_attention
from deployments.health import health_refresh
from deployments.health.facts import facts_load
from deployments.health.refresh import HealthWriter
from deployments.health.services import service_verdict
from deployments.models import Service
from tests.console import fleet

pytestmark = pytest.mark.django_db


def test_a_gone_clusters_services_and_instances_turn_inactive() -> None:
    c = fleet.cluster(fleet.account(), name="teardown")
    svc = fleet.service(c, "api", desired=2, running=0)
    fleet.deployment(svc)
    inst = fleet.instance(c, connected=False, running_tasks_count=1)
    health_refresh()
    svc.refresh_from_db()
    assert svc.health_state == "down"
    # A teardown deletes services, instances and the cluster between two syncs: the
    # sync marks only the cluster gone (clusters.mirror.sync.cluster_refresh).
    Cluster.objects.filter(pk=c.pk).update(gone_at=timezone.now())
    health_refresh()
    svc.refresh_from_db()
    inst.refresh_from_db()
    c.refresh_from_db()
    assert (svc.health_state, inst.health_state, c.health_state) == ("inactive",) * 3
    subjects = {i.subject for i in needs_attention()}
    assert f"service:{svc.pk}" not in subjects and f"instance:{inst.pk}" not in subjects
    gone = Event.objects.filter(source=EventSource.HEALTH, service_arn=svc.arn).latest("id")
    assert gone.message == "Service api is inactive" and gone.severity == "info"


def test_a_disabled_accounts_clusters_are_inactive_not_unknown_for_ever() -> None:
    acct = fleet.account()
    c = fleet.cluster(acct, name="paused")
    svc = fleet.service(c, "api")
    fleet.deployment(svc)
    health_refresh()
    AwsAccount.objects.filter(pk=acct.pk).update(enabled=False)
    Cluster.objects.filter(pk=c.pk).update(last_sync_at=timezone.now() - timedelta(hours=2))
    health_refresh()
    c.refresh_from_db()
    svc.refresh_from_db()
    assert (c.health_state, svc.health_state) == ("inactive", "inactive")
    assert f"cluster:{c.pk}" not in {i.subject for i in needs_attention()}
    AwsAccount.objects.filter(pk=acct.pk).update(enabled=True)  # back: judged again
    health_refresh()
    c.refresh_from_db()
    assert c.health_state == "unknown"


def test_an_older_read_does_not_overwrite_a_newer_verdict() -> None:
    """The 30 s fleet refresh reads (1 → 2 running: healthy), a sync then writes 0
    running and its own refresh stores "down"; the fleet refresh's write must not
    bring back green, nor add a second entry for the same change."""
    c = fleet.cluster(fleet.account(), name="prod")
    svc = fleet.service(c, "api", desired=2, running=1)
    fleet.deployment(svc)
    health_refresh()  # degraded: 1 of 2
    Service.objects.filter(pk=svc.pk).update(running_count=2)
    now = timezone.now()
    facts = facts_load(now=now)  # the fleet refresh reads ...
    [read] = [s for s in facts.services if s.pk == svc.pk]
    Service.objects.filter(pk=svc.pk).update(running_count=0)
    health_refresh(cluster_ids=[c.pk])  # ... a sync ends: down ...
    writer = HealthWriter(now)  # ... and the fleet refresh writes what it computed
    writer.add(read, service_verdict(read, facts, []), f"service:{svc.pk}", "Service api")
    assert writer.save() == 0
    svc.refresh_from_db()
    assert svc.health_state == "down"
    health_refresh()
    svc.refresh_from_db()
    assert svc.health_state == "down"
    entries = Event.objects.filter(source=EventSource.HEALTH, service_arn=svc.arn)
    assert [e.message.split(":")[0] for e in entries] == ["Service api is down"]
