"""What changed, in a real browser: the service page's deployments say what each
changed, "compare" opens the side-by-side with changed lines highlighted (by the
stylesheet alone: the CSP allows no inline style), and the form picks other sides."""

from __future__ import annotations

import pytest

from tests.conftest import browser_login
from tests.deployments.revisions.history import history_create
from tests.factories import PASSWORD

CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_deployment_changes_and_compare_page(page, live_server, viewer, artifacts_dir) -> None:
    history = history_create()
    page.add_init_script(CSP_PROBE)
    browser_login(page, live_server, viewer.username, PASSWORD)
    page.goto(f"{live_server.url}/services/{history.service.pk}/")
    newest = history.deployments[3].deployment_id
    row = page.locator(f"#deployments tr:has-text('{newest}')")
    cell = row.locator('td[data-col="changes"]')
    assert "container web: image tag: 1 → 2" in cell.inner_text()
    page.locator("#deployments").screenshot(path=str(artifacts_dir / "deployment-changes.png"))

    cell.locator("a:has-text('compare with')").click()
    page.wait_for_url(lambda url: "/compare?from=" in url)
    changed = page.locator("table.diff tr.diff-changed")
    assert changed.count() == 3
    tag = page.locator('table.diff tr[data-field="container web: image tag"]')
    assert tag.locator("td.diff-before").inner_text() == "1"
    assert tag.locator("td.diff-after").inner_text() == "2"
    # Highlighted by the stylesheet: the changed row's cells are coloured, a same row's not.
    before_bg = tag.locator("td.diff-before").evaluate("e => getComputedStyle(e).backgroundColor")
    same = page.locator('table.diff tr[data-field="container web: cpu"] td.diff-before')
    same_bg = same.evaluate("e => getComputedStyle(e).backgroundColor")
    assert before_bg != same_bg
    line = tag.locator("td.diff-before").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert line == "line-through"
    page.screenshot(path=str(artifacts_dir / "compare-page.png"), full_page=True)

    # Another pair through the form: api:1 was mirrored before details were kept.
    page.fill("#compare-from", "api:1")
    page.fill("#compare-to", "api:3")
    page.check("input[name=only]")
    page.click("#compare-form button[type=submit]")
    page.wait_for_url(lambda url: "only=changed" in url)
    assert page.locator("table.diff tr.diff-unknown").count() == 10
    assert page.locator("table.diff tr.diff-same").count() == 0
    page.screenshot(path=str(artifacts_dir / "compare-not-recorded.png"), full_page=True)
    assert page.evaluate("window.__cspViolations") == []
