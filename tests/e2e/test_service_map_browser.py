"""Browser: the demo fleet's service map (shop.local on prod-ec2) and the flagged
external service (edge.internal on onprem-edge), on the map and on its page. Saves
artifacts/service-map.png and artifacts/service-map-flagged.png."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import AwsAccount, Cluster
from deployments.health import health_refresh
from deployments.models import Service
from deployments.service_map.cloudmap_sync import cloudmap_instances_sync
from deployments.sync import account_sync
from tests.conftest import ARTIFACTS, browser_login
from tests.factories import PASSWORD


def _demo(sandbox: Any) -> None:
    sandbox.client.seed("demo")
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run and run.errors
    cloudmap_instances_sync(account_id=account.pk, region="us-east-1")
    health_refresh()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_demo_service_map_and_its_flags(page, live_server, sandbox, viewer) -> None:  # type: ignore[no-untyped-def]
    _demo(sandbox)
    csp: list[str] = []
    page.on(
        "console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None
    )
    browser_login(page, live_server, viewer.username, PASSWORD)
    prod = Cluster.objects.get(name="prod-ec2", region="us-east-1")
    page.goto(f"{live_server.url}/clusters/{prod.pk}/")
    page.click("#service-map-link")
    page.wait_for_url(f"**/clusters/{prod.pk}/map/")
    svg = page.locator("svg.service-map")
    svg.wait_for()
    assert (
        page.locator("nav[aria-label=Namespaces] a[aria-current=page]").inner_text() == "shop.local"
    )
    rows = {
        r.get_attribute("data-name"): r.locator("[data-col=providers]").inner_text()
        for r in page.locator("#map-names tbody tr").all()
    }
    assert rows == {"api": "api", "web": "web"}
    clients = page.locator("#map-names tr[data-name=api] [data-col=clients]").inner_text()
    assert clients == "web, worker"
    # Boxes must not overlap: every box's rectangle is apart from every other's.
    boxes = [b.bounding_box() for b in svg.locator("rect.map-box").all()]
    assert len(boxes) == 3 + 2 + 2  # clients web/api/worker, names api/web, providers
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a and b
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (a, b)
    page.screenshot(path=str(ARTIFACTS / "service-map.png"), full_page=True)
    # A click on a provider box leads to the service page.
    worker = Service.objects.get(name="worker", cluster=prod)
    svg.locator(f'a[href="/services/{worker.pk}/"]').first.click()
    page.wait_for_url(f"**/services/{worker.pk}/")
    assert "Service Connect in" in page.locator("#service-networking").inner_text()

    edge = Cluster.objects.get(name="onprem-edge", region="us-east-1")
    page.goto(f"{live_server.url}/clusters/{edge.pk}/map/")
    flags = page.locator("#map-flags li").all_inner_texts()
    assert len(flags) == 3 and any("external instances" in f for f in flags)
    assert page.locator("svg.service-map .map-flagged").count() == 2  # the service, its name
    page.screenshot(path=str(ARTIFACTS / "service-map-flagged.png"), full_page=True)
    metrics = Service.objects.get(name="metrics", cluster=edge)
    page.goto(f"{live_server.url}/services/{metrics.pk}/")
    # On its page: the map's two flags (SRV needed, no instance), and discovery on
    # external instances once, from the EXTERNAL check's card.
    assert page.locator("#service-networking li[data-flag]").count() == 2
    findings = page.locator("#external-findings").inner_text()
    assert "service discovery is not supported on external instances" in findings
    assert not csp, csp
