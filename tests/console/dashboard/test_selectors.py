"""Each "needs attention" item fires on crafted data and clears when the fact goes
away; acknowledgements hold per state; the summary counts the stored health; the
page's query count does not grow with the fleet.

The dashboard reads the health ``deployments.health.health_refresh`` stored (at the
end of every sync and on the 30 s beat), so every test refreshes after changing rows
and before reading: ``attention()`` and ``summary()`` below do both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost, SyncRun
from console.dashboard import AttentionItem, FleetSummary, dashboard_summary, needs_attention
from console.models import Acknowledgement
from deployments.models import Deployment, Service, Task
from tests.console import fleet

pytestmark = pytest.mark.django_db


def attention() -> list[AttentionItem]:
    """What the dashboard lists after the next health refresh."""
    fleet.health()
    return needs_attention()


def summary() -> FleetSummary:
    fleet.health()
    return dashboard_summary()


def by_source(source: str) -> list[AttentionItem]:
    return [i for i in attention() if i.source == source]


def fingerprint(kind: str, subject: Any) -> str:
    """``health:<kind>:<arn>`` (hosts and accounts have no ARN: their name)."""
    return f"health:{kind}:{getattr(subject, 'arn', '') or subject.name}"


def codes(item: AttentionItem) -> set[str]:
    return {r["code"] for r in item.reasons}


@pytest.fixture
def c() -> Cluster:
    return fleet.cluster(fleet.account(), name="prod")


def test_a_healthy_fleet_needs_nothing(c: Cluster) -> None:
    svc = fleet.service(c, "web", desired=3)
    fleet.deployment(svc, "COMPLETED")
    fleet.instance(c)
    assert attention() == []
    row = dashboard_summary().clusters[0]
    assert (row.services_healthy, row.services_degraded, row.services_failing) == (1, 0, 0)
    assert (row.services_down, row.services_unknown) == (0, 0)
    assert row.state == "healthy" and row.instances_active == 1 and not row.stale


def test_failed_rollout_fires_and_clears(c: Cluster) -> None:
    svc = fleet.service(c, "api", desired=2)
    old = fleet.deployment(
        svc, "COMPLETED", status="ACTIVE", created=timezone.now() - timedelta(hours=1)
    )
    bad = fleet.deployment(svc, "FAILED", rollout_state_reason="circuit breaker tripped")
    # One item, the service's: its cluster and account are failing only because of it.
    [item] = attention()
    assert item.fingerprint == fingerprint("service", svc) and item.source == "service"
    assert item.severity == "error" and item.health == "failing"
    assert item.state == "failing:rollout-failed"
    assert item.title == "Service api is failing"
    assert "circuit breaker tripped" in item.detail
    [why] = item.reasons
    assert why["evidence"]["deployment_id"] == bad.deployment_id
    assert item.url == f"/services/{svc.pk}/"
    assert item.timeline_url == f"/timeline/?service={quote(svc.arn, safe='')}"
    assert item.cluster_name == "prod"
    row = dashboard_summary().clusters[0]
    assert (row.services_failing, row.state) == (1, "failing")
    # A new deployment replaces it and completes: cleared.
    fleet.deployment(svc, "COMPLETED")
    Deployment.objects.filter(pk__in=[old.pk, bad.pk]).update(status="INACTIVE")
    assert attention() == []
    assert dashboard_summary().clusters[0].services_healthy == 1


def test_rollout_in_progress_then_stuck_then_done(c: Cluster, settings) -> None:  # type: ignore[no-untyped-def]
    settings.FLEETDECK_STUCK_ROLLOUT_MINUTES = 30
    svc = fleet.service(c, "plc-bridge", desired=2, running=1)
    dep = fleet.deployment(svc, "IN_PROGRESS", created=timezone.now() - timedelta(minutes=10))
    # A young rollout converging: the service is degraded while it rolls out (the
    # health model's choice; the old rules listed nothing until it was stuck).
    [item] = attention()
    assert item.severity == "warning" and codes(item) == {"rollout-in-progress", "below-desired"}
    young_state = item.state
    Deployment.objects.filter(pk=dep.pk).update(
        created_at_aws=timezone.now() - timedelta(minutes=45)
    )
    [item] = attention()
    assert item.fingerprint == fingerprint("service", svc)
    assert codes(item) == {"rollout-stuck", "below-desired"}
    assert item.state != young_state  # an acknowledgement of the young one ends here
    assert "in progress since" in item.detail
    Deployment.objects.filter(pk=dep.pk).update(rollout_state="COMPLETED")
    Service.objects.filter(pk=svc.pk).update(running_count=2)
    assert attention() == []


def test_service_below_desired_fires_and_clears(c: Cluster) -> None:
    svc = fleet.service(c, "worker", desired=4, running=1)
    fleet.deployment(svc, "COMPLETED")
    [item] = attention()
    assert item.fingerprint == fingerprint("service", svc)
    assert item.severity == "warning" and item.state == "degraded:below-desired"
    assert item.detail == "1 of 4 tasks running"
    assert summary().clusters[0].services_degraded == 1
    Service.objects.filter(pk=svc.pk).update(running_count=0)
    [item] = attention()
    assert item.severity == "error" and item.state == "down:no-tasks-running"
    assert dashboard_summary().clusters[0].services_down == 1
    Service.objects.filter(pk=svc.pk).update(running_count=4)
    assert attention() == []


def test_failed_tasks_grouped_by_service_then_crash_loop_then_age_out(c: Cluster) -> None:
    svc = fleet.service(c, "worker", desired=2)
    fleet.stopped_task(svc, exit_code=137, reason="OutOfMemoryError: killed")
    fleet.stopped_task(svc, exit_code=2)
    fleet.stopped_task(svc, exit_code=0)  # clean exit: not a failure
    old = fleet.stopped_task(svc, exit_code=1, stopped=timezone.now() - timedelta(hours=2))
    [item] = by_source("service")
    assert item.fingerprint == fingerprint("service", svc)
    assert item.state == "degraded:task-failures" and item.severity == "warning"
    assert item.detail == "2 task stops with a failure in 10 min (exit 137 ×1, exit 2 ×1; 1 OOM)"  # noqa: RUF001
    [why] = item.reasons
    assert why["evidence"]["stops"] == 2 and why["evidence"]["last_task_arn"] != old.arn
    # A third failure within the window: a crash loop, an error.
    fleet.stopped_task(svc, exit_code=1)
    [item] = by_source("service")
    assert item.state == "failing:crash-loop" and item.severity == "error"
    assert item.detail.startswith("crash loop: 3 task stops")
    # Once they are older than the crash window they are history, not attention.
    Task.objects.filter(service=svc).update(stopped_at=timezone.now() - timedelta(minutes=20))
    assert by_source("service") == []


def test_agent_disconnected_fires_and_clears(c: Cluster) -> None:
    ci = fleet.instance(
        c, connected=False, agent_connected_changed_at=timezone.now() - timedelta(minutes=6)
    )
    [item] = by_source("instance")
    assert item.fingerprint == fingerprint("instance", ci)
    assert item.state == "degraded:agent-disconnected" and item.severity == "warning"
    assert item.url == f"/instances/{ci.pk}/"
    assert item.timeline_url.startswith("/timeline/?instance=")
    assert dashboard_summary().clusters[0].instances_disconnected == 1
    # With tasks on it they cannot be stopped or replaced: failing.
    ContainerInstance.objects.filter(pk=ci.pk).update(running_tasks_count=2)
    [item] = by_source("instance")
    assert item.state == "failing:agent-disconnected" and item.severity == "error"
    ContainerInstance.objects.filter(pk=ci.pk).update(agent_connected=True)
    assert by_source("instance") == []


def test_a_short_agent_disconnect_is_a_warning_until_the_grace_ends(c: Cluster) -> None:
    """The ECS agent reconnects on its own after network blips: during the 5-minute
    grace (the one drift waits too) it is listed as degraded, a warning; after it,
    an agent with tasks on it is failing, an error."""
    ci = fleet.instance(
        c,
        connected=False,
        running_tasks_count=2,
        agent_connected_changed_at=timezone.now() - timedelta(minutes=2),
    )
    [item] = by_source("instance")
    assert item.health == "degraded" and item.severity == "warning"
    ContainerInstance.objects.filter(pk=ci.pk).update(
        agent_connected_changed_at=timezone.now() - timedelta(minutes=6)
    )
    [item] = by_source("instance")
    assert item.health == "failing" and item.severity == "error"


def test_sync_errors_and_stale_data(c: Cluster) -> None:
    acct = c.account
    run = SyncRun.objects.create(
        account=acct, cluster=c, status="succeeded", finished_at=timezone.now()
    )
    AwsAccount.objects.filter(pk=acct.pk).update(
        last_sync_status="failed", last_sync_error="AccessDenied: not authorized to ListClusters"
    )
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=False, last_sync_error="AccessDenied")
    items = {i.fingerprint: i for i in attention()}
    assert set(items) == {fingerprint("account", acct), fingerprint("cluster", c)}
    account_item = items[fingerprint("account", acct)]
    assert account_item.state == "degraded:sync-failed" and account_item.severity == "warning"
    assert "AccessDenied" in account_item.detail and account_item.source == "account"
    cluster_item = items[fingerprint("cluster", c)]
    assert cluster_item.state == "degraded:sync-failed" and cluster_item.severity == "warning"
    assert dashboard_summary().accounts_failing == ["prod"]
    assert dashboard_summary().clusters[0].sync_error == "AccessDenied"
    # Recovered, but the last success was long ago: unknown (never green), stale.
    AwsAccount.objects.filter(pk=acct.pk).update(last_sync_status="succeeded")
    long_ago = timezone.now() - timedelta(hours=2)
    Cluster.objects.filter(pk=c.pk).update(last_sync_ok=True, last_sync_at=long_ago)
    SyncRun.objects.filter(pk=run.pk).update(finished_at=long_ago)
    [item] = attention()
    assert item.fingerprint == fingerprint("cluster", c)
    assert item.state == "unknown:stale-data" and item.severity == "warning"
    row = dashboard_summary().clusters[0]
    assert row.stale and row.state == "unknown"
    SyncRun.objects.create(account=acct, cluster=c, status="succeeded", finished_at=timezone.now())
    assert attention() == []
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
    # fleet_snapshot's ten: clusters, accounts, services, deployments, instances and
    # one per kind of health subject (the unhealthy ones); the runs included.
    with django_assert_num_queries(10):
        fleet_snapshot(now=now)
    # Many more runs: newer failed and still-running ones, an account-level run,
    # and a newer success of another cluster, none of which is this cluster's.
    for minutes in range(31, 331):
        run(c, "succeeded", minutes)
    run(c, "failed", 1)
    run(c, "running", None)
    run(None, "succeeded", 20)
    run(other, "succeeded", 5)
    with django_assert_num_queries(10):
        snap = fleet_snapshot(now=now)
    newest = {cl.pk: cl.last_ok_run for cl in snap.clusters}  # type: ignore[attr-defined]
    assert newest[c.pk] == now - timedelta(minutes=30)
    assert newest[other.pk] == now - timedelta(minutes=5)
    assert snap.accounts[0].last_ok_run == now - timedelta(minutes=5)
    rows = dashboard_summary(snapshot=snap)
    assert {r.name: r.last_success_at for r in rows.clusters} == {
        "other": now - timedelta(minutes=5),
        "prod": now - timedelta(minutes=30),
    }


def test_ordering_and_acknowledgement_per_state(c: Cluster, operator) -> None:  # type: ignore[no-untyped-def]
    warn = fleet.service(c, "a-warn", desired=4, running=3)
    err = fleet.service(c, "b-err", desired=2, running=0)
    items = attention()
    assert [i.fingerprint for i in items] == [
        fingerprint("service", err),
        fingerprint("service", warn),
    ]
    assert items[0].state == "down:no-tasks-running"
    Acknowledgement.objects.create(
        fingerprint=items[0].fingerprint, state=items[0].state, user=operator, note="on it"
    )
    items = needs_attention()
    assert items[-1].fingerprint == fingerprint("service", err)
    assert items[-1].acknowledged and items[-1].acknowledgement.note == "on it"  # type: ignore[union-attr]
    # Scaled up while still down: same state and reasons, the acknowledgement holds.
    Service.objects.filter(pk=err.pk).update(desired_count=3)
    items = attention()
    assert items[-1].fingerprint == fingerprint("service", err) and items[-1].acknowledged
    assert items[-1].detail == "0 of 3 tasks running"
    # It changes (1 of 3 now: degraded): the acknowledgement no longer holds.
    Service.objects.filter(pk=err.pk).update(running_count=1)
    items = attention()
    assert not any(i.acknowledged for i in items)


def _queries_of_dashboard_data(django_assert_max_num_queries: Any) -> int:
    from console.dashboard import dashboard_data

    fleet.health()
    # fleet_snapshot's ten, one per extension rule (registrations, drift), the
    # acknowledgements of the items, the services' diagnoses (the services, their
    # newest stopped tasks' containers: deployments.diagnosis) and the event streams
    # (the sync modes).
    with django_assert_max_num_queries(16) as ctx:
        data = dashboard_data()
    assert data.attention  # every rule's loader and the acknowledgements ran
    return len(ctx.captured_queries)


def test_fixed_query_count_for_a_big_fleet(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    from console.dashboard import dashboard_data

    small = fleet.cluster(fleet.account("small"), name="small")
    fleet.service(small, "web", desired=2, running=1)
    small_fleet_queries = _queries_of_dashboard_data(django_assert_max_num_queries)
    fleet.big_fleet()
    assert _queries_of_dashboard_data(django_assert_max_num_queries) == small_fleet_queries
    data = dashboard_data()
    assert len(data.summary.clusters) == 11
    assert data.summary.totals.services_total == 501
    assert data.summary.totals.tasks_running == 5000
    assert {i.source for i in data.attention} == {"service", "instance"}
    codes_seen = {r["code"] for i in data.attention for r in i.reasons}
    assert {"rollout-failed", "below-desired", "agent-disconnected", "draining"} <= codes_seen
    assert {"task-failures", "crash-loop"} & codes_seen


# --- Docker hosts, the waiting room, registrations, drift --------------------------
def test_unreachable_docker_host_fires_and_clears(c: Cluster) -> None:
    host = DockerHost.objects.create(
        name="edge-1",
        endpoint="tcp://10.0.0.9:2376",
        reachable=False,
        last_error="connection refused",
        unreachable_since=timezone.now() - timedelta(minutes=10),
    )
    [item] = by_source("host")
    assert item.fingerprint == "health:host:edge-1" and item.severity == "error"
    assert item.state == "failing:host-unreachable" and "connection refused" in item.detail
    assert item.url == "/docker-hosts/edge-1/" and item.timeline_url == "/timeline/?host=edge-1"
    DockerHost.objects.filter(pk=host.pk).update(
        reachable=True, unreachable_since=None, last_error="", last_ok_at=timezone.now()
    )
    assert by_source("host") == []


def test_a_short_docker_host_outage_is_a_warning_until_the_grace_ends(c: Cluster) -> None:
    """A Docker engine may miss one sync: for two sync intervals (drift's wait too)
    the host is degraded, a warning; then failing, an error."""
    host = DockerHost.objects.create(
        name="edge-1",
        endpoint="tcp://10.0.0.9:2376",
        reachable=False,
        last_error="connection refused",
        last_ok_at=timezone.now() - timedelta(seconds=40),
        unreachable_since=timezone.now() - timedelta(seconds=30),
    )
    [item] = by_source("host")
    assert item.health == "degraded" and item.severity == "warning"  # maybe a blip
    DockerHost.objects.filter(pk=host.pk).update(
        unreachable_since=timezone.now() - timedelta(minutes=5)
    )
    [item] = by_source("host")
    assert item.health == "failing" and item.severity == "error"


def test_registration_items_and_the_waiting_room_fire_and_clear(c: Cluster, operator) -> None:  # type: ignore[no-untyped-def]
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
    items = {i.fingerprint: i for i in attention()}
    assert set(items) == {
        f"registration-pending:{req.pk}",
        fingerprint("instance", ci),  # the waiting room: the instance's own health row
        f"activation-expiring:{act.pk}",
    }
    assert items[f"activation-expiring:{act.pk}"].title.startswith("Activation a1b2c3 expires in 1")
    waiting = items[fingerprint("instance", ci)]
    assert waiting.state == "degraded:awaiting-approval" and waiting.cluster_name == "prod"
    row = dashboard_summary().clusters[0]
    assert (row.instances_waiting, row.instances_draining) == (1, 0)

    RegistrationRequest.objects.filter(pk=req.pk).update(state="approved")
    InstanceAdmission.objects.filter(pk=adm.pk).update(state="admitted")
    ContainerInstance.objects.filter(pk=ci.pk).update(status="ACTIVE")  # admitted: activated
    Activation.objects.filter(pk=act.pk).update(registrations_count=5)  # used up
    assert attention() == []


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
    DriftFinding.objects.create(  # the instance's health row reports it: not twice
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

    def evaluate() -> None:  # the health beat, then the alerts beat
        fleet.health()
        alerts_evaluate(enqueue=lambda pk: None)

    svc = fleet.service(c, "web", desired=3, running=2)
    evaluate()
    [item] = needs_attention()
    Acknowledgement.objects.create(
        fingerprint=item.fingerprint,
        state=item.state,
        user=operator,
        fire_seq=acknowledgement_fire_seq(item.fingerprint),
    )
    assert needs_attention()[0].acknowledged
    Service.objects.filter(pk=svc.pk).update(running_count=3)
    evaluate()  # resolved
    Service.objects.filter(pk=svc.pk).update(running_count=2)  # same state again...
    evaluate()  # ...but a new firing
    [item] = needs_attention()
    assert item.state == "degraded:below-desired" and not item.acknowledged
