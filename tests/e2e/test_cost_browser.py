"""In a browser: the ECS Anywhere bill of the demo fleet (edge machines registered
days apart): totals, the daily trend, the costliest clusters, the month selector and
the CSV link. Screenshots under artifacts/cost-*.png."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.cost import cost_bill
from clusters.display import usd_text
from tests.clusters.cost.helpers import demo_synced
from tests.conftest import browser_login
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_bill_in_a_browser(
    page: Any, live_server: Any, viewer: Any, sandbox: Any, artifacts_dir: Any
) -> None:
    demo_synced(sandbox)

    browser_login(page, live_server, viewer.username, PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("nav.mainnav >> text=Cost")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/cost/")
    now = timezone.now()
    month = date(now.year, now.month, 1)
    bill = cost_bill(month=month, now=now)
    shown = page.locator("[data-cost-so-far]").inner_text()
    assert shown.startswith("$") and bill.cost > 0
    assert abs(float(shown[1:].replace(",", "")) - float(bill.cost)) < 0.02  # a sync later
    assert page.locator("[data-cost-projected]").inner_text() == f"${usd_text(bill.projected_cost)}"
    assert page.locator("svg.chart.bars rect.bar").count() == now.day
    top = page.locator("#cost-top").inner_text()
    assert "onprem-edge" in top and "us-east-1" in top
    clusters = page.locator("#cost-clusters").inner_text()
    assert "prod-ec2" not in clusters  # EC2 instances are billed by EC2, not here
    # The machine drained since before the demo's history runs no task, still billed.
    idle = page.locator("#cost-idle tbody tr")
    assert idle.count() == 1 and "$7.48 / month" in idle.inner_text()
    page.screenshot(path=str(artifacts_dir / "cost-bill.png"), full_page=True)

    previous = month - timedelta(days=1)
    page.select_option("select[name=month]", f"{previous:%Y-%m}")
    page.click("#cost-filter button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Month total" in page.locator("#cost-totals").inner_text()
    last_month = cost_bill(month=previous.replace(day=1), now=timezone.now())
    assert page.locator("[data-cost-projected]").inner_text() == f"${usd_text(last_month.cost)}"
    page.screenshot(path=str(artifacts_dir / "cost-bill-previous-month.png"), full_page=True)
    href = page.locator("a:has-text('Export CSV')").get_attribute("href") or ""
    assert f"month={previous:%Y-%m}" in href
