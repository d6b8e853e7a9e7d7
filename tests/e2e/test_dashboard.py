"""Browser: the demo fleet's dashboard, acknowledge, live refresh, wallboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clusters.models import AwsAccount, ContainerInstance
from clusters.registration import activations_refresh
from deployments.health import health_refresh
from deployments.models import Service
from deployments.samples.sampling import services_sample
from deployments.sync import account_sync
from tests.conftest import browser_login
from tests.factories import PASSWORD

REGIONS = ["us-east-1", "eu-west-1"]


def _demo_fleet(sandbox) -> AwsAccount:  # type: ignore[no-untyped-def]
    sandbox.client.seed("demo")
    account = AwsAccount.objects.create(
        name="demo", regions=REGIONS, auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run and run.errors
    for region in REGIONS:
        activations_refresh(account=account, region=region)
    # The mirror first saw the disconnected agent just now: move that first sighting
    # back (an outage, not a blip), then re-evaluate as the 30 s health beat would.
    ContainerInstance.objects.filter(agent_connected=False).update(
        agent_connected_changed_at=timezone.now() - timedelta(minutes=12)
    )
    health_refresh()
    # Trend samples as the beat task would have taken them over the demo's history.
    now = timezone.now()
    for minutes_ago in range(40, -1, -2):
        services_sample(now=now - timedelta(minutes=minutes_ago))
    return account


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_fleet_dashboard_and_wallboard(
    page, live_server, sandbox, operator, artifacts_dir
) -> None:  # type: ignore[no-untyped-def]
    _demo_fleet(sandbox)
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            csp_violations.append(f"{page.url} {m.location} {m.text[:60]}")
            if "Content Security Policy" in m.text
            else None
        ),
    )
    browser_login(page, live_server, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/")
    attention = page.locator("#attention")
    api = Service.objects.get(name="api", cluster__name="prod-ec2")
    assert "Service api is failing" in attention.inner_text()
    assert attention.locator(f'[data-subject="service:{api.pk}"][data-health="failing"]').count()
    assert attention.locator('[data-reason="rollout-failed"]').count()
    assert attention.locator('[data-reason="agent-disconnected"]').count()
    assert "Activation" in attention.inner_text() and "expires in" in attention.inner_text()
    assert "prod-ec2" in page.locator("#summary").inner_text()
    page.wait_for_selector("#trends svg.chart")
    page.screenshot(path=str(artifacts_dir / "dashboard-demo.png"), full_page=True)

    # Acknowledge the failing service with a note: it sinks, marked with who/when.
    item = page.locator(".attention-item", has_text="Service api is failing").first
    item.locator("input[name=note]").fill("rolling back to :41")
    item.locator("button", has_text="Acknowledge").click()
    acked = page.locator(".attention-item.acknowledged", has_text="Service api is failing")
    acked.wait_for()
    assert "rolling back to :41" in acked.inner_text()

    # Live: a change in the fleet reaches the open page within a poll, no reload.
    page.evaluate("window.scrollTo(0, 200)")
    Service.objects.filter(name="reports").update(desired_count=3, running_count=0)
    health_refresh()  # the health beat
    page.locator(".attention-item", has_text="Service reports is down").first.wait_for(
        timeout=15_000
    )
    assert page.evaluate("window.scrollY") == 200

    # Wallboard on a 1080p screen: no navigation, nothing scrolls.
    tv = page.context.browser.new_context(viewport={"width": 1920, "height": 1080})  # type: ignore[union-attr]
    tv_page = tv.new_page()
    tv_page.context.add_cookies(page.context.cookies())
    tv_page.goto(f"{live_server.url}/?tv=1")
    assert tv_page.locator("nav.mainnav").count() == 0
    assert "Service api is failing" not in tv_page.locator("#tv-attention").inner_text()  # acked
    assert "failing" in tv_page.locator("#tv-summary").inner_text()
    height = tv_page.evaluate("document.documentElement.scrollHeight")
    assert height <= 1080
    tv_page.screenshot(path=str(artifacts_dir / "wallboard.png"))
    tv.close()
    assert csp_violations == []  # no inline style or script anywhere on the way


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_wallboard_cycles_clusters_when_many(page, live_server, viewer) -> None:  # type: ignore[no-untyped-def]
    from tests.console import fleet

    acct = fleet.account()
    for i in range(11):
        fleet.cluster(acct, name=f"site-{i:02d}")
    browser_login(page, live_server, viewer.username, PASSWORD)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}/?tv=1")
    assert page.locator(".tv-cluster:visible").count() == 8
    assert page.locator(".tv-page-indicator").inner_text() == "Clusters page 1 of 2"
    # The next page comes by itself (every 10 s).
    page.locator(".tv-page-indicator", has_text="page 2 of 2").wait_for(timeout=15_000)
    assert page.locator(".tv-cluster:visible").count() == 3
    assert "site-10" in page.locator(".tv-clusters").inner_text()
