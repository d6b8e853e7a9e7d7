"""Each "needs attention" rule fires on crafted data and clears when the fact goes away;
the summary counts; the page's query count does not grow with the fleet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, ContainerInstance, SyncRun
from console.dashboard import dashboard_summary, needs_attention
from console.models import Acknowledgement
from deployments.models import Deployment, Service
from tests.console import fleet

pytestmark = pytest.mark.django_db


def fingerprints() -> set[str]:
    return {i.fingerprint for i in needs_attention()}


def by_source(source: str) -> list:  # type: ignore[type-arg]
    return [i for i in needs_attention() if i.source == source]


@pytest.fixture
def c() -> Cluster:
    return fleet.cluster(fleet.account(), name="prod")


def test_a_healthy_fleet_needs_nothing(c: Cluster) -> None:
    svc = fleet.service(c, "web", desired=3)
    fleet.deployment(svc, "COMPLETED")
    fleet.instance(c)
    assert needs_attention() == []
    summary = dashboard_summary()
    row = summary.clusters[0]
    assert (row.services_healthy, row.services_degraded, row.services_failing) == (1, 0, 0)
    assert row.instances_active == 1 and not row.stale


def test_failed_rollout_fires_and_clears(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2)
    old = fleet.deployment(
        svc, "COMPLETED", status="ACTIVE", created=timezone.now() - timedelta(hours=1)
    )
    bad = fleet.deployment(svc, "FAILED", rollout_state_reason="circuit breaker tripped")
    [item] = by_source("deployment")
    assert item.severity == "error"
    assert item.fingerprint == f"rollout-failed:{bad.deployment_id}"
    assert "circuit breaker" in item.detail
    assert (
        item.timeline_url == f"/timeline/?service={svc.arn.replace(':', '%3A').replace('/', '%2F')}"
    )
    assert dashboard_summary().clusters[0].services_failing == 1
    # A new deployment replaces it and completes: cleared.
    fleet.deployment(svc, "COMPLETED")
    Deployment.objects.filter(pk__in=[old.pk, bad.pk]).update(status="INACTIVE")
    assert by_source("deployment") == []


def test_stuck_rollout_fires_after_threshold_and_clears(c: Cluster, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_STUCK_ROLLOUT_MINUTES = 30
    svc = fleet.service(c, "plc-bridge", desired=2, running=1)
    dep = fleet.deployment(svc, "IN_PROGRESS", created=timezone.now() - timedelta(minutes=10))
    # Young rollout: converging, not an item (and not "below desired" either).
    assert fingerprints() == set()
    Deployment.objects.filter(pk=dep.pk).update(
        created_at_aws=timezone.now() - timedelta(minutes=45)
    )
    items = needs_attention()
    assert {i.fingerprint for i in items} == {
        f"rollout-stuck:{dep.deployment_id}",
        f"service-below-desired:{svc.arn}",
    }
    Deployment.objects.filter(pk=dep.pk).update(rollout_state="COMPLETED")
    Service.objects.filter(pk=svc.pk).update(running_count=2)
    assert fingerprints() == set()


def test_service_below_desired_fires_and_clears(c: Cluster) -> None:
    svc = fleet.service(c, "worker", desired=4, running=1)
    fleet.deployment(svc, "COMPLETED")
    [item] = needs_attention()
    assert item.fingerprint == f"service-below-desired:{svc.arn}"
    assert item.severity == "warning" and item.state == "1/4"
    Service.objects.filter(pk=svc.pk).update(running_count=0)
    [item] = needs_attention()
    assert item.severity == "error"
    Service.objects.filter(pk=svc.pk).update(running_count=4)
    assert needs_attention() == []


def test_failed_tasks_grouped_by_service_and_age_out(c: Cluster) -> None:
    svc = fleet.service(c, "worker", desired=2)
    fleet.stopped_task(svc, exit_code=137, reason="OutOfMemoryError: killed")
    fleet.stopped_task(svc, exit_code=2)
    fleet.stopped_task(svc, exit_code=0)  # clean exit: not a failure
    old = fleet.stopped_task(svc, exit_code=1, stopped=timezone.now() - timedelta(hours=2))
    [item] = by_source("task")
    assert item.fingerprint == f"task-failures:{svc.arn}"
    assert "2 task(s)" in item.title and "1 out of memory" in item.detail
    assert old.arn not in item.state
    # An hour later they are history, not attention.
    from deployments.models import Task

    Task.objects.filter(service=svc).update(stopped_at=timezone.now() - timedelta(hours=2))
    assert by_source("task") == []


def test_agent_disconnected_longer_than_five_minutes(c: Cluster) -> None:
    ci = fleet.instance(
        c, connected=False, agent_connected_changed_at=timezone.now() - timedelta(minutes=2)
    )
    assert by_source("container-instance") == []  # a blip, not yet an item
    ContainerInstance.objects.filter(pk=ci.pk).update(
        agent_connected_changed_at=timezone.now() - timedelta(minutes=6)
    )
    [item] = by_source("container-instance")
    assert item.fingerprint == f"agent-disconnected:{ci.arn}" and item.severity == "error"
    assert item.timeline_url.startswith("/timeline/?instance=")
    assert dashboard_summary().clusters[0].instances_disconnected == 1
    ContainerInstance.objects.filter(pk=ci.pk).update(agent_connected=True)
    assert by_source("container-instance") == []


def test_sync_errors_and_stale_data(c: Cluster) -> None:
    acct = c.account
    AwsAccount.objects.filter(pk=acct.pk).update(
        last_sync_status="failed", last_sync_error="AccessDenied: not authorized to ListClusters"
    )
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=False, last_sync_error="AccessDenied")
    fps = {i.fingerprint: i for i in by_source("sync")}
    assert set(fps) == {f"sync-error:account:{acct.pk}", f"sync-error:cluster:{c.arn}"}
    assert "AccessDenied" in fps[f"sync-error:account:{acct.pk}"].detail
    assert dashboard_summary().accounts_failing == ["prod"]
    # Recovered, but the last success was long ago: stale, shown loudly.
    AwsAccount.objects.filter(pk=acct.pk).update(last_sync_status="succeeded")
    long_ago = timezone.now() - timedelta(hours=2)
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=True, last_sync_at=long_ago)
    [item] = by_source("sync")
    assert item.fingerprint == f"sync-stale:cluster:{c.arn}"
    assert dashboard_summary().clusters[0].stale
    SyncRun.objects.create(account=acct, cluster=c, status="succeeded", finished_at=timezone.now())
    assert by_source("sync") == []
    assert not dashboard_summary().clusters[0].stale


def test_last_success_is_the_newest_succeeded_run_in_fixed_queries(
    c: Cluster,
    django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    from console.dashboard import fleet_snapshot

    acct = c.account
    other = fleet.cluster(acct, name="other", last_sync_ok=False, last_sync_at=None)
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=False)  # only the runs tell
    now = timezone.now()

    def run(cluster: Cluster | None, status: str, minutes_ago: float | None) -> None:
        SyncRun.objects.create(
            account=acct,
            cluster=cluster,
            status=status,
            finished_at=None if minutes_ago is None else now - timedelta(minutes=minutes_ago),
        )

    run(c, "succeeded", 30)
    with django_assert_num_queries(6):  # fleet_snapshot's six, the runs included
        fleet_snapshot(now=now)
    # Many more runs: newer failed and still-running ones, an account-level run,
    # and a newer success of another cluster, none of which is this cluster's.
    for minutes in range(31, 331):
        run(c, "succeeded", minutes)
    run(c, "failed", 1)
    run(c, "running", None)
    run(None, "succeeded", 20)
    run(other, "succeeded", 5)
    with django_assert_num_queries(6):
        snap = fleet_snapshot(now=now)
    newest = {cl.pk: cl.last_ok_run for cl in snap.clusters}  # type: ignore[attr-defined]
    assert newest[c.pk] == now - timedelta(minutes=30)
    assert newest[other.pk] == now - timedelta(minutes=5)
    assert snap.accounts[0].last_ok_run == now - timedelta(minutes=5)
    summary = dashboard_summary(snapshot=snap)
    assert {r.name: r.last_success_at for r in summary.clusters} == {
        "other": now - timedelta(minutes=5),
        "prod": now - timedelta(minutes=30),
    }


def test_ordering_and_acknowledgement_until_the_item_changes(c: Cluster, operator) -> None:  # type: ignore[no-untyped-def]
    warn = fleet.service(c, "a-warn", desired=4, running=3)
    err = fleet.service(c, "b-err", desired=2, running=0)
    items = needs_attention()
    assert [i.fingerprint for i in items] == [
        f"service-below-desired:{err.arn}",
        f"service-below-desired:{warn.arn}",
    ]
    Acknowledgement.objects.create(
        fingerprint=items[0].fingerprint, state=items[0].state, user=operator, note="on it"
    )
    items = needs_attention()
    assert items[-1].fingerprint == f"service-below-desired:{err.arn}"
    assert items[-1].acknowledged and items[-1].acknowledgement.note == "on it"  # type: ignore[union-attr]
    # It changes (1 of 2 now): the acknowledgement no longer holds; back on top.
    Service.objects.filter(pk=err.pk).update(running_count=1, desired_count=3)
    items = needs_attention()
    assert not any(i.acknowledged for i in items)


def test_fixed_query_count_for_a_big_fleet(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    fleet.big_fleet()
    from console.dashboard import dashboard_data

    with django_assert_max_num_queries(10) as ctx:
        data = dashboard_data()
    small_fleet_queries = len(ctx.captured_queries)
    assert len(data.summary.clusters) == 10
    assert data.summary.totals.services_total == 500
    assert data.summary.totals.tasks_running == 5000
    sources = {i.source for i in data.attention}
    assert {"deployment", "service", "task", "container-instance"} <= sources
    assert small_fleet_queries <= 10


# --- rules over other capabilities' models ----------------------------------------
def test_unreachable_docker_host_fires_after_grace_and_clears(c: Cluster) -> None:
    from clusters.models import DockerHost

    host = DockerHost.objects.create(
        name="edge-1",
        endpoint="tcp://10.0.0.9:2376",
        reachable=False,
        last_error="connection refused",
        unreachable_since=timezone.now() - timedelta(seconds=30),
    )
    assert by_source("docker-host") == []  # a blip
    DockerHost.objects.filter(pk=host.pk).update(
        unreachable_since=timezone.now() - timedelta(minutes=10)
    )
    [item] = by_source("docker-host")
    assert item.fingerprint == "docker-host-unreachable:edge-1" and item.severity == "error"
    assert item.url == "/docker-hosts/edge-1/" and item.timeline_url == "/timeline/?host=edge-1"
    DockerHost.objects.filter(pk=host.pk).update(reachable=True, unreachable_since=None)
    assert by_source("docker-host") == []


def test_registration_rules_fire_and_clear(c: Cluster, operator) -> None:  # type: ignore[no-untyped-def]
    from clusters.models import Activation, InstanceAdmission, RegistrationRequest

    req = RegistrationRequest.objects.create(
        cluster=c,
        requested_by=operator,
        registration_limit=2,
        iam_role="ecsAnywhereRole",
        justification="two new cameras at plant 3",
        default_instance_name="plant3-cam",
    )
    ci = fleet.instance(c, connected=True, status="DRAINING", is_external=True)
    adm = InstanceAdmission.objects.create(
        cluster=c,
        container_instance=ci,
        container_instance_arn=ci.arn,
        managed_instance_id="mi-0aaaabbbbccccdddd",
        hostname="plant3-cam-1",
    )
    act = Activation.objects.create(
        account=c.account,
        region=c.region,
        cluster=c,
        activation_id="a1b2c3",
        registration_limit=5,
        registrations_count=1,
        expires_at=timezone.now() + timedelta(hours=20),
        description="edge fleet",
    )
    Activation.objects.create(  # far from expiry: not an item
        account=c.account,
        region=c.region,
        activation_id="later",
        expires_at=timezone.now() + timedelta(days=20),
    )
    items = {i.fingerprint: i for i in needs_attention()}
    assert set(items) == {
        f"registration-pending:{req.pk}",
        f"waiting-room:{adm.pk}",
        f"activation-expiring:{act.pk}",
    }
    assert items[f"activation-expiring:{act.pk}"].title.startswith("Activation a1b2c3 expires in 1")
    assert items[f"waiting-room:{adm.pk}"].cluster_name == "prod"
    row = dashboard_summary().clusters[0]
    assert (row.instances_waiting, row.instances_draining) == (1, 0)

    RegistrationRequest.objects.filter(pk=req.pk).update(state="approved")
    InstanceAdmission.objects.filter(pk=adm.pk).update(state="admitted")
    Activation.objects.filter(pk=act.pk).update(registrations_count=5)  # used up
    assert needs_attention() == []


def test_query_count_with_every_extension(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    fleet.big_fleet()
    from console.dashboard import dashboard_data

    with django_assert_max_num_queries(11):
        dashboard_data()


def test_drift_findings_fire_and_clear(c: Cluster) -> None:
    from deployments.models import DriftFinding

    finding = DriftFinding.objects.create(
        kind="orphan-container",
        key="orphan-container|edge-1|abc123",
        severity="error",
        message="Container abc123 on edge-1 runs for a task ECS does not run",
        docker_host_name="edge-1",
        cluster_arn=c.arn,
    )
    DriftFinding.objects.create(  # reported by the agent rule already: not twice
        kind="agent-disconnected", key="agent|x", severity="error", message="agent down"
    )
    [item] = by_source("drift")
    assert item.fingerprint == "drift:orphan-container|edge-1|abc123"
    assert item.severity == "error" and item.cluster_name == "prod"
    assert item.timeline_url == "/timeline/?host=edge-1"
    DriftFinding.objects.filter(pk=finding.pk).update(resolved_at=timezone.now())
    assert by_source("drift") == []


def test_acknowledgement_ends_when_the_item_re_fires(c: Cluster, operator) -> None:  # type: ignore[no-untyped-def]
    from console.alerts.notifications import alerts_evaluate
    from console.dashboard import acknowledgement_fire_seq

    svc = fleet.service(c, "web", desired=3, running=2)
    alerts_evaluate(enqueue=lambda pk: None)
    [item] = needs_attention()
    Acknowledgement.objects.create(
        fingerprint=item.fingerprint,
        state=item.state,
        user=operator,
        fire_seq=acknowledgement_fire_seq(item.fingerprint),
    )
    assert needs_attention()[0].acknowledged
    Service.objects.filter(pk=svc.pk).update(running_count=3)
    alerts_evaluate(enqueue=lambda pk: None)  # resolved
    Service.objects.filter(pk=svc.pk).update(running_count=2)  # same state again...
    alerts_evaluate(enqueue=lambda pk: None)  # ...but a new firing
    assert not needs_attention()[0].acknowledged
