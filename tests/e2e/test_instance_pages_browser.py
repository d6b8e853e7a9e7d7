"""In a browser: an external instance's page (machine, resources with units, the
capabilities folded, its tasks flagged while the agent is disconnected) and the
stopped-task view (stop code, exit codes, newest stop first). Screenshots under
artifacts/."""

from __future__ import annotations

from typing import Any

import pytest

from clusters import registration
from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.sync import account_sync
from tests.conftest import browser_login
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_instance_page_and_stopped_tasks_in_a_browser(
    page: Any, live_server: Any, viewer: Any, sandbox: Any, artifacts_dir: Any
) -> None:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    assert account_sync(account_id=account.pk) is not None
    edge = Cluster.objects.get(name="onprem-edge", region="us-east-1")
    registration.waiting_room_scan(cluster=edge)
    down = ContainerInstance.objects.get(cluster=edge, agent_connected=False)

    browser_login(page, live_server, viewer.username, PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/instances/?cluster={edge.pk}")
    listing = page.locator("table").first.inner_text()
    assert "edge-us-04" in listing and "192.168.13.23" in listing and "vCPU" in listing
    page.screenshot(path=str(artifacts_dir / "instances-list.png"), full_page=True)

    page.goto(f"{live_server.url}/instances/{down.pk}/")
    machine = page.locator("#machine").inner_text()
    assert "edge-us-04" in machine and "192.168.13.23" in machine
    resources = page.locator("#resources").inner_text()
    assert "of 2 vCPU" in resources and "of 4 GiB" in resources
    capabilities = page.locator("#capabilities")
    assert capabilities.get_attribute("open") is None  # folded
    assert not page.locator("#capabilities tbody").is_visible()
    flags = page.locator("#tasks [data-flag=agent-disconnected]")
    assert flags.count() >= 1
    assert "until the agent reconnects" in (flags.first.get_attribute("title") or "")
    page.screenshot(path=str(artifacts_dir / "instance-page.png"), full_page=True)
    page.click("#capabilities summary")
    assert page.locator("#capabilities tbody").is_visible()
    assert "ecs.capability.external" in page.locator("#capabilities").inner_text()
    page.screenshot(path=str(artifacts_dir / "instance-page-capabilities-open.png"), full_page=True)

    page.goto(f"{live_server.url}/tasks/?status=stopped")
    head = page.locator("thead").inner_text()
    assert "Stop code" in head and "Exit codes" in head
    stopped = page.locator("tbody tr").all_inner_texts()
    assert any("137" in row and "OOM" in row for row in stopped)
    times = page.locator("td[data-col=stopped]").all_inner_texts()
    assert len(times) == len(stopped) and all(t.startswith("20") for t in times), "|".join(times)
    assert times == sorted(times, reverse=True), times
    page.screenshot(path=str(artifacts_dir / "tasks-stopped.png"), full_page=True)
