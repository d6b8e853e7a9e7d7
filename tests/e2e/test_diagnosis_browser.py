"""Browser: why it broke, as an on-call engineer reads it on a fleet in trouble
made in the sandbox: a stopped task's "Why it stopped", a service with repeated OOM
kills, and an EXTERNAL service flagged for service discovery before it deploys."""

from __future__ import annotations

import pytest

from clusters.models import Cluster
from deployments.health import health_refresh
from deployments.models import Service, Task, TaskDefinition
from tests.conftest import browser_login
from tests.deployments.health.trouble import trouble_fleet
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_why_it_broke(page, live_server, sandbox, viewer, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    trouble_fleet(sandbox)
    health_refresh()
    browser_login(page, live_server, viewer.username, PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 900})

    task = (
        Task.objects.filter(service__name="worker", containers__reason__contains="OutOfMemory")
        .order_by("-stopped_at")
        .first()
    )
    assert task is not None
    page.goto(f"{live_server.url}/tasks/{task.pk}/")
    why = page.locator("#stop")
    text = why.inner_text()
    assert "Out of memory" in text and "Fix." in text and "512" in text, text
    assert why.locator('[data-diagnosis="oom-killed"]').count() == 1
    why.screenshot(path=str(artifacts_dir / "diagnosis-task.png"))

    worker = Service.objects.get(name="worker")
    page.goto(f"{live_server.url}/services/{worker.pk}/")
    line = page.locator("#service-diagnosis").inner_text()
    assert "were OOM-killed: container worker hits its 512 MiB limit" in line, line
    page.locator("#incident").screenshot(path=str(artifacts_dir / "diagnosis-service-oom.png"))

    svc = _external_service_with_discovery()
    page.goto(f"{live_server.url}/services/{svc.pk}/")
    flagged = page.locator("#external-findings")
    assert flagged.locator('[data-finding="external-service-discovery"]').count() == 1
    assert "service discovery is not supported" in flagged.inner_text()
    page.screenshot(path=str(artifacts_dir / "diagnosis-external.png"), full_page=False)


def _external_service_with_discovery() -> Service:
    """An EXTERNAL service given a Cloud Map registry, as the mirror would hold it
    (AWS itself refuses nothing at CreateService time for this; the tasks fail)."""
    edge = Service.objects.filter(launch_type="EXTERNAL").select_related("cluster").first()
    cluster = edge.cluster if edge else Cluster.objects.first()
    assert cluster is not None
    td = next(
        (t for t in TaskDefinition.objects.all() if "EXTERNAL" in t.requires_compatibilities),
        None,
    )
    return Service.objects.create(
        cluster=cluster,
        name="plc-discovery",
        arn=f"{cluster.arn.replace(':cluster/', ':service/')}/plc-discovery",
        status="ACTIVE",
        desired_count=1,
        launch_type="EXTERNAL",
        task_definition=td,
        service_registries=[
            {"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-plc"}
        ],
    )
