"""Instance and task pages on the synced demo fleet: the machine's hostname and IP
for mi- instances, CPU and memory with units, capability attributes folded, tasks on
a disconnected agent flagged, and the stopped-task view (stop code, exit codes,
newest stop first)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from clusters import registration
from clusters.models import AwsAccount, Cluster, ContainerInstance, DockerHost, InstanceAdmission
from deployments.models import Task
from tests.deployments.test_pages import _get, demo  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def edge(demo: AwsAccount, sandbox: Any) -> Cluster:  # noqa: F811
    """The demo's external cluster, after the waiting room has seen its machines (what
    beat does every 30 s): their admissions hold what SSM said about each."""
    cluster = Cluster.objects.get(name="onprem-edge", region="us-east-1")
    admissions = registration.waiting_room_scan(cluster=cluster)
    assert admissions and {a.state for a in admissions} == {InstanceAdmission.State.ADMITTED}
    return cluster


def test_external_instances_show_hostname_and_ip_at_no_extra_call(
    edge: Cluster, viewer_client: Client, sandbox: Any
) -> None:
    calls_before = sandbox.client.request_counts()
    html = _get(viewer_client, f"/instances/?cluster={edge.pk}")
    html_all = _get(viewer_client, "/instances/")
    assert sandbox.client.request_counts() == calls_before  # pages never call AWS
    instances = list(ContainerInstance.objects.filter(cluster=edge, is_external=True))
    assert len(instances) == 5  # the fifth has been DRAINING since it joined (idle, billed)
    for ci in instances:
        admission = InstanceAdmission.objects.get(container_instance=ci)
        # the demo's machines: edge-us-01 .. edge-us-05 at 192.168.1x.2x
        assert re.fullmatch(r"edge-us-0\d", admission.hostname), admission.hostname
        assert re.fullmatch(r"192\.168\.1\d\.2\d", admission.ip_address), admission.ip_address
        for page in (html, html_all):
            assert f'{admission.hostname} · <span class="mono">{admission.ip_address}' in page
        detail = _get(viewer_client, f"/instances/{ci.pk}/")
        machine = detail.split('id="machine"', 1)[1].split("</p>", 1)[0]
        assert admission.hostname in machine and admission.ip_address in machine
    # searching by hostname or IP finds the instance
    one = instances[0].admission  # type: ignore[attr-defined]
    found = _get(viewer_client, f"/instances/?q={one.hostname}")
    assert str(instances[0]) in found
    assert str(instances[0]) in _get(viewer_client, f"/instances/?q={one.ip_address}")
    others = [str(ci) for ci in instances[1:]]
    assert not any(other in found for other in others)


def test_a_linked_docker_host_names_a_machine_ssm_did_not(
    demo: AwsAccount,  # noqa: F811
    viewer_client: Client,
) -> None:
    ci = ContainerInstance.objects.filter(is_external=True).first()
    assert ci is not None and not InstanceAdmission.objects.filter(container_instance=ci).exists()
    html = _get(viewer_client, f"/instances/{ci.pk}/")
    assert "Hostname and IP not known yet" in html
    DockerHost.objects.create(
        name="edge", endpoint="tcp://10.0.0.9:2376", container_instance=ci, hostname="line-3-box"
    )
    html = _get(viewer_client, f"/instances/{ci.pk}/")
    assert "<strong>line-3-box</strong>" in html
    assert "line-3-box" in _get(viewer_client, f"/instances/?cluster={ci.cluster_id}")


def test_cpu_and_memory_show_their_units(edge: Cluster, viewer_client: Client) -> None:
    ci = ContainerInstance.objects.filter(cluster=edge, agent_connected=True).first()
    assert ci is not None and ci.registered_cpu == 2048 and ci.registered_memory == 4096
    html = _get(viewer_client, f"/instances/{ci.pk}/")
    resources = html.split('id="resources"', 1)[1].split("</section>", 1)[0]
    assert f"<strong>{ci.used_cpu / 1024:g} of 2 vCPU</strong>" in resources
    assert f"{ci.used_cpu} of 2048 CPU units" in resources
    assert "of 4 GiB</strong>" in resources and f"{ci.used_memory} of 4096 MiB" in resources
    listing = _get(viewer_client, f"/instances/?cluster={edge.pk}")
    assert "of 2 vCPU" in listing and "of 4 GiB" in listing

    task = Task.objects.filter(last_status="RUNNING", task_definition__family="web").first()
    assert task is not None and task.cpu == "256" and task.memory == "512"
    html = _get(viewer_client, f"/tasks/{task.pk}/")
    assert '<td id="task-cpu">256 CPU units (0.25 vCPU)</td>' in html
    assert '<td id="task-memory">512 MiB</td>' in html


def test_capability_attributes_are_folded_below_the_useful_ones(
    edge: Cluster, viewer_client: Client
) -> None:
    ci = ContainerInstance.objects.filter(cluster=edge).first()
    assert ci is not None
    ci.attributes = {
        **ci.attributes,
        "com.amazonaws.ecs.capability.docker-remote-api.1.44": "",
        "ecs.os-type": "linux",
        "site": "line-3",
    }
    ci.save(update_fields=["attributes"])
    html = _get(viewer_client, f"/instances/{ci.pk}/")
    section = html.split('id="attributes"', 1)[1].split("</section>", 1)[0]
    shown, folded = section.split('<details class="folded" id="capabilities">', 1)
    assert ">site<" in shown and ">ecs.os-type<" in shown
    assert "ecs.capability." not in shown and "com.amazonaws.ecs.capability." not in shown
    assert "ecs.capability.external" in folded
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.44" in folded
    count = sum(1 for k in ci.attributes if "ecs.capability." in k)
    assert f"<summary>{count} capability attributes" in folded


def test_tasks_on_a_disconnected_agent_are_flagged(edge: Cluster, viewer_client: Client) -> None:
    down = ContainerInstance.objects.get(cluster=edge, agent_connected=False)
    stuck = list(Task.objects.filter(container_instance=down, last_status="RUNNING"))
    assert stuck, "the demo's unplugged machine runs tasks"
    healthy = Task.objects.filter(
        cluster=edge, last_status="RUNNING", container_instance__agent_connected=True
    ).first()
    assert healthy is not None
    badge = 'data-flag="agent-disconnected"'
    for url in (
        "/tasks/",
        f"/clusters/{edge.pk}/?tab=tasks",
        f"/instances/{down.pk}/",
        f"/services/{stuck[0].service_id}/",
    ):
        html = _get(viewer_client, url, max_queries=20)
        rows = dict(re.findall(r'<tr[^>]*data-task="(\d+)">(.*?)</tr>', html, re.S))
        for task in stuck:
            assert badge in rows[str(task.pk)], url
            assert "cannot stop or replace it until the agent reconnects" in rows[str(task.pk)]
        if str(healthy.pk) in rows:
            assert badge not in rows[str(healthy.pk)]
    html = _get(viewer_client, f"/tasks/{stuck[0].pk}/")
    assert badge in html and 'id="disconnected-note"' in html
    assert badge not in _get(viewer_client, f"/tasks/{healthy.pk}/")
    assert 'id="disconnected-note"' in _get(viewer_client, f"/instances/{down.pk}/")
    # A stopped task on that machine is history, not stuck.
    stuck[0].last_status = "STOPPED"
    stuck[0].save(update_fields=["last_status"])
    assert badge not in _get(viewer_client, f"/tasks/{stuck[0].pk}/")


def test_the_stopped_view_shows_exit_and_stop_codes_newest_stop_first(
    demo: AwsAccount,  # noqa: F811
    viewer_client: Client,
) -> None:
    stopped = list(Task.objects.filter(last_status="STOPPED"))
    assert len(stopped) >= 3
    # Insertion order (ids) and stop order disagree on purpose.
    now = timezone.now()
    for i, task in enumerate(stopped):
        task.stopped_at = now - timedelta(minutes=i)
        task.save(update_fields=["stopped_at"])
    stopped[-1].stopped_at = now + timedelta(minutes=1)
    stopped[-1].save(update_fields=["stopped_at"])
    expected = [stopped[-1], *stopped[:-1]]

    html = _get(viewer_client, "/tasks/?status=stopped", max_queries=15)
    order = re.findall(r'<tr[^>]*data-task="(\d+)">', html)
    assert order == [str(t.pk) for t in expected][: len(order)]
    assert "<th>Stopped</th><th>Stop code</th><th>Exit codes</th>" in html
    rows = dict(re.findall(r'<tr[^>]*data-task="(\d+)">(.*?)</tr>', html, re.S))
    oom = Task.objects.filter(last_status="STOPPED", containers__exit_code=137).first()
    assert oom is not None
    row = rows[str(oom.pk)]
    stop_code = row.split('data-col="stop-code">', 1)[1].split("</td>", 1)[0]
    assert oom.stop_code and oom.stop_code in stop_code
    exits = row.split('data-col="exit-codes">', 1)[1].split("</td>", 1)[0]
    assert '<span class="badge badge-error">137</span>' in exits and "OOM" in exits
    # Running views keep their columns and their order.
    assert "<th>Exit codes</th>" not in _get(viewer_client, "/tasks/")
