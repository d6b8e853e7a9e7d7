"""/api/v1/docs in a real browser: Swagger UI renders every resource from this
origin alone, with no CSP violation, and "Try it out" calls the API with the
session of the person logged in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from clusters.models import DockerHost
from console.api.resources import RESOURCES
from tests.conftest import browser_login
from tests.factories import PASSWORD

# Set before any page script runs: every CSP violation the page causes.
CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_offline_under_the_csp(page, live_server, viewer, artifacts_dir) -> None:
    DockerHost.objects.create(name="plant-3", endpoint="tcp://10.0.0.5:2376", reachable=True)
    browser_login(page, live_server, viewer.username, PASSWORD)
    origin = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if urlsplit(request.url).netloc not in (origin, "")
            and not request.url.startswith("data:")
            else None
        ),
    )
    page.add_init_script(CSP_PROBE)

    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    for name in RESOURCES:
        assert f"/api/v1/{name}" in paths, (name, paths)
    assert "/api/v1/" in paths
    assert page.locator(".info .title").first.inner_text().startswith("Fleetdeck API")
    assert page.locator(".api-docs-nav a", has_text="Fleetdeck").is_visible()
    page.screenshot(path=str(artifacts_dir / "api-docs-overview.png"), full_page=False)

    # Try it out: GET /api/v1/hosts with the browser's session.
    hosts = page.locator(".opblock-get", has=page.locator("[data-path='/api/v1/hosts']")).first
    hosts.locator(".opblock-summary").click()
    hosts.locator("button.try-out__btn").click()
    hosts.locator("button.execute").click()
    response = hosts.locator(".live-responses-table tbody .response-col_status").first
    response.wait_for()
    assert response.inner_text().strip().startswith("200")
    assert "plant-3" in hosts.locator(".live-responses-table .microlight").first.inner_text()

    page.screenshot(path=str(artifacts_dir / "api-docs-try-it-out.png"), full_page=False)
    assert page.evaluate("window.__cspViolations") == []
    assert elsewhere == []
