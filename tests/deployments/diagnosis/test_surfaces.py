"""Where a diagnosis shows besides the task and service pages (tested on the
sandbox in test_diagnose_sandbox.py): the dashboard's rows and the alerts they
fire, the instance page; and the EXTERNAL check on the service and compare pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from clusters.models import InstanceAdmission
from console.alerts.notifications import alerts_evaluate
from console.dashboard import needs_attention
from console.models import NotificationChannel, NotificationDelivery
from deployments.diagnosis import external_unsupported, instance_diagnose
from deployments.health import health_refresh
from deployments.models import Service, TaskDefinition
from tests.console import fleet

pytestmark = pytest.mark.django_db

OOM = "OutOfMemoryError: Container killed due to memory usage"


def _td(family: str = "web", revision: int = 3, **kw: object) -> TaskDefinition:
    defaults: dict[str, object] = {
        "network_mode": "bridge",
        "containers": [{"name": "app", "image": "nginx:1.27", "memory": 128}],
    }
    defaults.update(kw)
    return TaskDefinition.objects.create(
        arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}",
        family=family,
        revision=revision,
        **defaults,
    )


def _oom_service() -> Service:
    c = fleet.cluster(fleet.account(), name="prod")
    svc = fleet.service(c, "web", desired=2, task_definition=_td())
    fleet.deployment(svc, "COMPLETED", task_definition=svc.task_definition)
    now = timezone.now()
    for minutes in (1, 2, 3, 4):
        task = fleet.stopped_task(svc, 137, OOM, stopped=now - timedelta(minutes=minutes))
        task.task_definition = svc.task_definition
        task.save()
    last = fleet.stopped_task(svc, 1, "", stopped=now - timedelta(minutes=5))
    last.task_definition = svc.task_definition
    last.save()
    health_refresh()
    svc.refresh_from_db()
    return svc


def test_dashboard_rows_and_alerts_say_why(viewer_client: Client) -> None:
    svc = _oom_service()
    assert svc.health_state == "failing"
    item = next(i for i in needs_attention() if i.subject == f"service:{svc.pk}")
    assert item.why == "4 of the last 5 tasks were OOM-killed: container app hits its 128 MiB limit"
    assert item.why_title.startswith("Out of memory")
    html = viewer_client.get("/").content.decode()
    assert "attention-why" in html and item.why in html

    NotificationChannel.objects.create(name="hook", kind="webhook", target="http://127.0.0.1:9/")
    alerts_evaluate(enqueue=lambda pk: None)
    delivery = NotificationDelivery.objects.get(fingerprint=item.fingerprint)
    assert delivery.payload["detail"].startswith("Why: Out of memory")
    assert "128 MiB limit" in delivery.payload["detail"]


def test_an_external_instance_whose_agent_is_disconnected() -> None:
    c = fleet.cluster(fleet.account(), name="edge")
    mi = fleet.instance(c, connected=False, is_external=True, ec2_instance_id="mi-0abc")
    found = instance_diagnose(mi)
    assert found is not None and found.code == "anywhere-agent-disconnected"
    assert "keep running" in found.cause
    ok = fleet.instance(c, connected=True, is_external=True, ec2_instance_id="mi-0abd")
    assert instance_diagnose(ok) is None


def test_an_install_script_run_twice_uses_a_second_registration(viewer_client: Client) -> None:
    c = fleet.cluster(fleet.account(), name="edge")
    first = fleet.instance(c, is_external=True, ec2_instance_id="mi-01")
    again = fleet.instance(c, is_external=True, ec2_instance_id="mi-02")
    for mi in (first, again):
        InstanceAdmission.objects.create(
            cluster=c, container_instance=mi, container_instance_arn=mi.arn,
            managed_instance_id=mi.ec2_instance_id, activation_aws_id="act-1",
            hostname="plc-07",
        )  # fmt: skip
    found = instance_diagnose(again)
    assert found is not None and found.code == "anywhere-activation-reused"
    assert found.evidence["other_registrations"] == ["mi-01"]
    html = viewer_client.get(f"/instances/{again.pk}/").content.decode()
    assert 'data-diagnosis="anywhere-activation-reused"' in html and "--skip-registration" in html


def test_an_external_service_with_service_discovery_is_flagged(viewer_client: Client) -> None:
    c = fleet.cluster(fleet.account(), name="edge")
    td = _td("plc", network_mode="awsvpc", requires_compatibilities=["EXTERNAL"],
             volumes=[{"name": "shared", "type": "efs", "config": {}}])  # fmt: skip
    svc = fleet.service(
        c, "plc", task_definition=td, launch_type="EXTERNAL",
        service_registries=[{"registryArn": "arn:aws:servicediscovery:us-east-1:1:service/srv-1"}],
    )  # fmt: skip
    codes = [f.code for f in external_unsupported(service=svc)]
    assert codes == ["external-awsvpc", "external-efs", "external-service-discovery"]
    html = viewer_client.get(f"/services/{svc.pk}/").content.decode()
    assert 'id="external-findings"' in html and 'data-finding="external-service-discovery"' in html
    _td("plc", revision=2)
    html = viewer_client.get(f"/services/{svc.pk}/compare?from=plc:2&to=plc:3").content.decode()
    assert 'data-finding="external-awsvpc"' in html

    # The same settings on EC2 are fine: a launch type decides, even in a cluster of
    # only external instances (an EC2 task never lands on one).
    ec2 = fleet.service(c, "ec2", task_definition=_td("ec2", network_mode="awsvpc"),
                        launch_type="EC2", service_registries=[{"registryArn": "x"}])  # fmt: skip
    assert external_unsupported(service=ec2) == []
    # No launch type (a capacity-provider strategy): a cluster of only external
    # instances binds it.
    cp = fleet.service(c, "cp", task_definition=_td("cp", network_mode="awsvpc"),
                       launch_type="", service_registries=[{"registryArn": "x"}])  # fmt: skip
    assert external_unsupported(service=cp, cluster=c) == []  # no instance in it yet
    fleet.instance(c, is_external=True, ec2_instance_id="mi-0e1")
    assert external_unsupported(service=ec2, cluster=c) == []
    codes = [f.code for f in external_unsupported(service=cp, cluster=c)]
    assert codes == ["external-awsvpc", "external-service-discovery"]
    fleet.instance(c, is_external=False)
    assert external_unsupported(service=cp, cluster=c) == []
