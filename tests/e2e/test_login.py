from __future__ import annotations

import pytest

from tests.conftest import browser_login
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operator_logs_in_and_sees_the_dashboard(
    page, live_server, operator, artifacts_dir
) -> None:
    page.goto(f"{live_server.url}/services/")
    assert "/login/" in page.url  # sent to log in first, and back afterwards
    page.fill("#id_username", operator.username)
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()

    browser_login(page, live_server, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Dashboard"
    nav = page.locator("nav.mainnav").inner_text()
    for label in ("Clusters", "Instances", "Services", "Tasks", "Registrations", "Timeline"):
        assert label in nav
    assert "operator" in page.locator(".whoami").inner_text()
    page.screenshot(path=str(artifacts_dir / "dashboard.png"), full_page=True)

    # htmx was served locally (no CDN) and is live on the page.
    assert page.evaluate("typeof window.htmx") == "object"
