"""Browser: a fleet in trouble as an on-call engineer sees it: the dashboard, each
broken service's page leading with what is wrong, the wallboard and a phone."""

from __future__ import annotations

import pytest

from deployments.health import health_refresh
from deployments.models import Service
from tests.conftest import browser_login
from tests.deployments.health.trouble import trouble_fleet
from tests.factories import PASSWORD
from tests.peers import REPO

# name -> (state, words the incident header must say)
SERVICES = {
    "metrics": ("down", "0 of 2 tasks running"),
    "api": ("failing", "rollout to api:2 failed"),
    "plc-bridge": ("failing", "cannot place edge-plc-bridge:2"),
    "worker": ("failing", "crash loop: 3 OOM kills"),
    "camera-agent": ("healthy", "Healthy"),
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_fleet_in_trouble(page, live_server, sandbox, operator, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    trouble_fleet(sandbox)
    health_refresh()
    browser_login(page, live_server, operator.username, PASSWORD)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/")
    attention = page.locator("#attention")
    for name, (state, _) in SERVICES.items():
        rows = attention.locator(f'.attention-item:has([data-subject="service:{_pk(name)}"])')
        assert rows.count() == (0 if state == "healthy" else 1), name
    first = attention.locator(".attention-item").first
    assert first.locator("[data-health]").first.get_attribute("data-health") == "down"
    page.screenshot(path=str(artifacts_dir / "health-dashboard.png"), full_page=True)
    page.screenshot(path=str(REPO / "docs" / "screenshots" / "dashboard.png"), full_page=True)

    for name, (state, words) in SERVICES.items():
        page.goto(f"{live_server.url}/services/{_pk(name)}/")
        header = page.locator("#incident")
        assert words in header.inner_text(), (name, header.inner_text())
        badge = page.locator(f'h1 [data-subject="service:{_pk(name)}"]')
        assert badge.get_attribute("data-health") == state
        # The incident comes before the actions and the tables.
        assert page.evaluate(
            "document.querySelector('#incident').getBoundingClientRect().top"
            " < document.querySelector('#deployments').getBoundingClientRect().top"
        )
        page.screenshot(path=str(artifacts_dir / f"health-service-{name}.png"), full_page=True)

    _wallboard(page, live_server, artifacts_dir)
    _phone(page, live_server, artifacts_dir)


def _pk(name: str) -> int:
    return Service.objects.get(name=name).pk


def _wallboard(page, live_server, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    tv = page.context.browser.new_context(viewport={"width": 1920, "height": 1080})
    tv_page = tv.new_page()
    tv_page.context.add_cookies(page.context.cookies())
    tv_page.goto(f"{live_server.url}/?tv=1")
    items = tv_page.locator("#tv-attention [data-subject^='service:']")
    assert items.first.get_attribute("data-health") == "down"
    assert tv_page.evaluate("document.documentElement.scrollHeight") <= 1080
    tv_page.screenshot(path=str(artifacts_dir / "health-wallboard.png"))
    tv.close()


def _phone(page, live_server, artifacts_dir) -> None:  # type: ignore[no-untyped-def]
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844})
    phone_page = phone.new_page()
    phone_page.context.add_cookies(page.context.cookies())
    phone_page.goto(f"{live_server.url}/")
    # The first screen says what is broken: the first attention row is visible.
    first = phone_page.locator("#attention .attention-item").first
    assert first.bounding_box()["y"] < 844, "the state is below the first screen"
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    phone_page.screenshot(path=str(artifacts_dir / "health-phone.png"))
    phone.close()
