"""Drift findings 1-4 open and resolve as syncs progress, each on the timeline.

The Docker side is the real engine (and the same engine over a TCP proxy for the
unreachable host); the ECS side is mirror rows as the AWS sync writes them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost, Event
from deployments.drift.evaluation import drift_evaluate
from deployments.models import DriftFinding, DriftKind, Task
from tests.clusters.docker_helpers import DOCKER_URL, ecs_labels

pytestmark = pytest.mark.django_db

HEALTHCHECK_FAILS = {"test": ["CMD", "false"], "interval": 300_000_000, "retries": 1}


@pytest.fixture
def world(engine):
    """One external instance in a mirrored cluster; the local engine is its host."""
    now = timezone.now()
    account = AwsAccount.objects.create(name="acct", account_id="123456789012")
    name = f"drift-{engine.run_id}"
    cluster = Cluster.objects.create(
        account=account,
        region="us-east-1",
        name=name,
        arn=f"arn:aws:ecs:us-east-1:123456789012:cluster/{name}",
        last_sync_ok=True,
        last_sync_at=now - timedelta(minutes=10),
    )
    inst = ContainerInstance.objects.create(
        cluster=cluster,
        arn=f"arn:aws:ecs:us-east-1:123456789012:container-instance/{name}/abc123",
        ec2_instance_id="mi-0abc123",
        is_external=True,
        status="ACTIVE",
        agent_connected=True,
        agent_connected_changed_at=now - timedelta(hours=1),
    )
    host = docker_host_create(name="edge-host", endpoint=DOCKER_URL, instance_arn=inst.arn)
    return cluster, inst, host


def _task(cluster, inst, suffix: str, status: str = "RUNNING", started_ago: int = 60) -> Task:
    seen = timezone.now() - timedelta(seconds=started_ago)
    return Task.objects.create(
        first_seen_at=seen,
        arn=f"arn:aws:ecs:us-east-1:123456789012:task/{cluster.name}/{suffix}",
        cluster=cluster,
        container_instance=inst,
        last_status=status,
        desired_status=status,
        started_at=timezone.now() - timedelta(seconds=started_ago),
    )


def _open(kind: str, **filters) -> list[DriftFinding]:
    return list(DriftFinding.objects.filter(kind=kind, resolved_at__isnull=True, **filters))


def _timeline_has(finding: DriftFinding, what: str) -> bool:
    return Event.objects.filter(source="drift", dedupe_key=f"drift|{what}|{finding.pk}").exists()


def _sync(host) -> None:
    """A sync, then the drift evaluation it queues (run here, in-process)."""
    result = docker_host_sync(host_id=host.pk)
    assert result is not None
    drift_evaluate()


def test_1_running_task_without_container_opens_and_resolves(engine, world):
    cluster, inst, host = world
    task = _task(cluster, inst, "t1")
    _sync(host)
    (finding,) = _open(DriftKind.TASK_WITHOUT_CONTAINER, task=task)
    assert finding.severity == "error" and finding.docker_host == host
    assert finding.container_instance == inst and _timeline_has(finding, "opened")
    assert drift_evaluate().opened == []  # idempotent: nothing new the second time

    engine.run("t1", labels=ecs_labels(task.arn, cluster=cluster.name))
    _sync(host)
    finding.refresh_from_db()
    assert finding.resolved_at is not None and _timeline_has(finding, "resolved")

    # A task the mirror learnt of after the host's last listing is not judged yet.
    late = _task(cluster, inst, "t2", started_ago=-5)
    drift_evaluate()
    assert not _open(DriftKind.TASK_WITHOUT_CONTAINER, task=late)


def test_2_orphan_containers_open_and_resolve(engine, world):
    cluster, inst, host = world
    stopped = _task(cluster, inst, "gone1", status="STOPPED")
    c1 = engine.run("orphan-stopped", labels=ecs_labels(stopped.arn, cluster=cluster.name))
    unknown_arn = f"arn:aws:ecs:us-east-1:123456789012:task/{cluster.name}/never"
    c2 = engine.run("orphan-unknown", labels=ecs_labels(unknown_arn, cluster=cluster.name))
    _sync(host)
    # The cluster was last asked before c2 started: ECS may not know it yet.
    assert [f.docker_container_id for f in _open(DriftKind.ORPHAN_CONTAINER)] == [c1.id]
    Cluster.objects.filter(pk=cluster.pk).update(last_sync_at=timezone.now())
    drift_evaluate()
    found = {f.docker_container_id: f for f in _open(DriftKind.ORPHAN_CONTAINER)}
    assert set(found) == {c1.id, c2.id}
    assert "is STOPPED in ECS" in found[c1.id].message
    assert "unknown to ECS" in found[c2.id].message
    assert found[c1.id].task == stopped and _timeline_has(found[c1.id], "opened")

    c1.remove(force=True)
    c2.kill()
    _sync(host)
    for f in found.values():
        f.refresh_from_db()
        assert f.resolved_at is not None and _timeline_has(f, "resolved")


def test_3_agent_container_and_agent_disconnected(engine, world):
    _cluster, inst, host = world
    _sync(host)
    (missing,) = _open(DriftKind.AGENT_CONTAINER, docker_host=host)
    assert "is missing" in missing.message and missing.severity == "error"

    agent = engine.run("ecs-agent", raw_name=True, healthcheck=HEALTHCHECK_FAILS)
    from tests.peers import wait_until

    wait_until(
        lambda: (
            engine.client.api.inspect_container(agent.id)["State"]["Health"]["Status"]
            == "unhealthy"
        ),
        timeout=20,
    )
    _sync(host)
    missing.refresh_from_db()
    assert missing.resolved_at is not None and _timeline_has(missing, "resolved")
    (unhealthy,) = _open(DriftKind.AGENT_CONTAINER, docker_host=host)
    assert "unhealthy" in unhealthy.message and unhealthy.severity == "warning"

    agent.kill()
    agent.wait(timeout=120)
    _sync(host)
    (stopped,) = _open(DriftKind.AGENT_CONTAINER, docker_host=host)
    assert "not running (exited)" in stopped.message
    agent.remove(force=True)
    engine.run("ecs-agent", raw_name=True)
    _sync(host)
    assert not _open(DriftKind.AGENT_CONTAINER, docker_host=host)
    stopped.refresh_from_db()
    assert _timeline_has(stopped, "resolved")

    # agentConnected false: brief disconnects are normal, > 5 minutes is a finding.
    ContainerInstance.objects.filter(pk=inst.pk).update(
        agent_connected=False, agent_connected_changed_at=timezone.now() - timedelta(minutes=2)
    )
    drift_evaluate()
    assert not _open(DriftKind.AGENT_DISCONNECTED)
    drift_evaluate(now=timezone.now() + timedelta(minutes=4))
    (disc,) = _open(DriftKind.AGENT_DISCONNECTED)
    assert disc.container_instance == inst and disc.docker_host == host
    ContainerInstance.objects.filter(pk=inst.pk).update(
        agent_connected=True, agent_connected_changed_at=timezone.now()
    )
    drift_evaluate()
    disc.refresh_from_db()
    assert disc.resolved_at is not None and _timeline_has(disc, "resolved")


def test_4_host_unreachable_for_two_syncs(engine, tcp_proxy):
    host = docker_host_create(name="remote", endpoint=tcp_proxy.url)
    _sync(host)
    tcp_proxy.pause()
    _sync(host)
    host.refresh_from_db()
    assert not host.reachable
    assert not _open(DriftKind.HOST_UNREACHABLE)  # one failed sync is not drift
    interval = settings.FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS
    drift_evaluate(now=timezone.now() + timedelta(seconds=2 * interval + 1))
    (finding,) = _open(DriftKind.HOST_UNREACHABLE, docker_host=host)
    assert finding.severity == "error" and _timeline_has(finding, "opened")
    tcp_proxy.resume()
    _sync(host)
    finding.refresh_from_db()
    assert finding.resolved_at is not None and _timeline_has(finding, "resolved")


def test_findings_show_on_host_instance_and_dashboard(viewer_client, engine, world):
    cluster, inst, host = world
    task = _task(cluster, inst, "shown")
    _sync(host)
    assert _open(DriftKind.TASK_WITHOUT_CONTAINER, task=task)
    pages = [
        reverse("clusters:docker-host", args=[host.name]),
        reverse("deployments:instance", args=[inst.pk]),
        reverse("dashboard"),
    ]
    for url in pages:
        body = viewer_client.get(url).content.decode()
        assert 'id="drift-findings"' in body, url
        assert "has no running container for it" in body, url
        assert reverse("deployments:task", args=[task.pk]) in body, url
    body = viewer_client.get(reverse("deployments:instance", args=[inst.pk])).content.decode()
    assert (
        'id="linked-docker-hosts"' in body
        and reverse("clusters:docker-host", args=[host.name]) in body
    )


def test_host_links_itself_to_the_instance_its_tasks_run_on(engine, world):
    cluster, inst, _ = world
    other = docker_host_create(name="unlinked", endpoint=DOCKER_URL)
    assert other.container_instance is None
    task = _task(cluster, inst, "link")
    engine.run("link", labels=ecs_labels(task.arn, cluster=cluster.name))
    _sync(other)
    other.refresh_from_db()
    assert other.container_instance == inst and other.link_source == "auto:task-arn"
    assert DockerHost.objects.get(name="edge-host").link_source == "operator"


def test_operator_links_a_host_viewer_cannot(viewer_client, operator_client, engine, world):
    _cluster, inst, _host = world
    other = docker_host_create(name="manual", endpoint=DOCKER_URL)
    url = reverse("clusters:docker-host-link", args=["manual"])
    page = reverse("clusters:docker-host", args=["manual"])
    viewer_client.get(page)
    token = viewer_client.cookies["csrftoken"].value
    assert viewer_client.post(url, {"instance": inst.pk}, HTTP_X_CSRFTOKEN=token).status_code == 403
    body = operator_client.get(page).content.decode()
    assert 'action="' + url + '"' in body
    token = operator_client.cookies["csrftoken"].value
    r = operator_client.post(url, {"instance": inst.pk}, HTTP_X_CSRFTOKEN=token, follow=True)
    assert f"Linked manual to {inst}." in r.content.decode()
    other.refresh_from_db()
    assert other.container_instance == inst and other.link_source == "operator"
    assert Event.objects.filter(source="audit", instance_arn=inst.arn).exists()
