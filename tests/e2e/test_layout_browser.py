"""Layout in Chromium: long user text wraps instead of widening the page, and at phone
width (390x844) the menu folds behind a CSS-only toggle and no page scrolls sideways.
Screenshots under artifacts/layout/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster
from deployments.models import Redeploy, Service
from deployments.sync import account_sync
from tests.conftest import browser_login
from tests.factories import PASSWORD

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
# One unbroken "word": what once made the request page 22,878 px wide.
LONG_JUSTIFICATION = "x" * 2000


def _horizontal_overflow(page: Any) -> int:
    """How many CSS px the document is wider than the viewport (0: none)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )


def _inside_viewport_horizontally(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


def _new_page(browser: Any, viewport: dict[str, int]) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_2000_character_justification_wraps_and_approve_stays_on_screen(
    browser: Any, page: Any, live_server: Any, operator: Any, admin_user: Any, artifacts_dir: Any
) -> None:
    shots = artifacts_dir / "layout"
    shots.mkdir(exist_ok=True)
    account = AwsAccount.objects.create(name="plant", regions=["us-east-1"])
    cluster = Cluster.objects.create(
        account=account, region="us-east-1", name="edge", arn="arn:aws:ecs:us-east-1:1:cluster/edge"
    )

    # The operator asks, through the form, with one 2,000-character word as the reason.
    browser_login(page, live_server, operator.username, PASSWORD)
    page.goto(f"{live_server.url}/registrations/new/")
    page.select_option("#id_cluster", str(cluster.pk))
    page.fill("#id_justification", LONG_JUSTIFICATION)
    page.click("#registration-form button[type=submit]")
    page.wait_for_url(re.compile(r"/registrations/\d+/$"))
    request_path = page.url.removeprefix(live_server.url)

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        admin = _new_page(browser, viewport)
        browser_login(admin, live_server, admin_user.username, PASSWORD)
        admin.goto(f"{live_server.url}{request_path}")
        assert LONG_JUSTIFICATION in admin.inner_text("#justification")
        assert _horizontal_overflow(admin) <= 0, name
        approve = admin.locator("#approve-button")
        approve.scroll_into_view_if_needed()
        assert approve.is_visible() and _inside_viewport_horizontally(admin, "#approve-button")
        # The justification's box is no wider than the page: it wrapped.
        justification = admin.locator("#justification").bounding_box()
        assert justification is not None and justification["width"] <= viewport["width"]
        admin.screenshot(path=str(shots / f"request-long-justification-{name}.png"), full_page=True)

        admin.goto(f"{live_server.url}/registrations/queue/")
        assert _horizontal_overflow(admin) <= 0, name
        admin.screenshot(path=str(shots / f"queue-long-justification-{name}.png"), full_page=True)
        admin.context.close()


@pytest.fixture
def two_region_fleet(sandbox: Any) -> AwsAccount:
    """The demo fleet: prod-ec2 (with a service "web") exists in both regions."""
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo",
        regions=["us-east-1", "eu-west-1"],
        auth_mode="endpoint",
        endpoint_url=sandbox.url,
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    return account


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_phone_width_folds_the_menu_and_nothing_scrolls_sideways(
    browser: Any,
    live_server: Any,
    admin_user: Any,
    two_region_fleet: AwsAccount,
    artifacts_dir: Any,
) -> None:
    shots = artifacts_dir / "layout"
    shots.mkdir(exist_ok=True)
    # Finished redeploys of "web" in both regions, one with a long unbroken reason.
    for n, web in enumerate(Service.objects.filter(name="web").order_by("cluster__region")):
        Redeploy.objects.create(
            service=web,
            requested_by=admin_user,
            reason=LONG_JUSTIFICATION[:500] if n == 0 else "rotate credentials",
            idempotency_key=f"layout-{n}",
            status="completed",
            finished_at=timezone.now(),
        )
    phone = _new_page(browser, PHONE)
    browser_login(phone, live_server, admin_user.username, PASSWORD)

    for name, path in [
        ("dashboard", "/"),
        ("clusters", "/clusters/"),
        ("services", "/services/"),
        ("timeline", "/timeline/"),
        ("redeploys", "/redeploys/"),
        ("registrations", "/registrations/"),
        ("alert-channel-form", "/alerts/channels/new/"),
    ]:
        phone.goto(f"{live_server.url}{path}")
        phone.wait_for_load_state("networkidle")
        # The menu is folded: the links are hidden, the toggle is shown.
        assert phone.locator("#mainnav").is_hidden(), name
        assert phone.locator(".nav-toggle-label").is_visible(), name
        assert _horizontal_overflow(phone) <= 0, (name, _horizontal_overflow(phone))
        phone.screenshot(path=str(shots / f"phone-{name}.png"), full_page=False)

    # Tapping "Menu" unfolds it (no script: a checkbox and CSS); the links work.
    phone.goto(f"{live_server.url}/services/")
    phone.click(".nav-toggle-label")
    assert phone.locator("#mainnav").is_visible()
    assert phone.locator(".whoami").is_visible()
    assert _horizontal_overflow(phone) <= 0
    phone.screenshot(path=str(shots / "phone-menu-open.png"), full_page=False)
    phone.click("#mainnav >> text=Timeline")
    phone.wait_for_url(re.compile(r"/timeline/"))
    assert phone.locator("#mainnav").is_hidden()

    # The same service name in two regions is told apart by its region.
    for path in ["/services/?q=web", "/redeploys/"]:
        phone.goto(f"{live_server.url}{path}")
        regions = phone.locator("td .region").all_inner_texts()
        assert any("us-east-1" in r for r in regions), (path, regions)
        assert any("eu-west-1" in r for r in regions), (path, regions)
    phone.context.close()

    # At desktop width the toggle is not there and the links are.
    desktop = _new_page(browser, DESKTOP)
    browser_login(desktop, live_server, admin_user.username, PASSWORD)
    desktop.goto(f"{live_server.url}/services/")
    assert desktop.locator("#mainnav").is_visible()
    assert desktop.locator(".nav-toggle-label").is_hidden()
    desktop.screenshot(path=str(shots / "desktop-services.png"), full_page=True)

    # The alert channel form is laid out like the other forms: fields as div.field,
    # the sources as a fieldset of inline checkboxes (not full-width boxes).
    desktop.goto(f"{live_server.url}/alerts/channels/new/")
    assert desktop.locator("#channel-form div.field").count() >= 5
    assert desktop.locator("#channel-form fieldset.choices legend").inner_text() == "Sources"
    for checkbox in ["#id_enabled", "#id_sources_0"]:
        box = desktop.locator(checkbox).bounding_box()
        assert box is not None and box["width"] < 40, (checkbox, box)
    desktop.fill("#id_name", "on-call")
    desktop.select_option("#id_kind", "webhook")
    desktop.fill("#id_target", "not a url")
    desktop.check("#id_sources_0")
    desktop.click("#channel-form button[type=submit]")
    desktop.wait_for_load_state("networkidle")
    assert desktop.locator("#channel-form .errorlist").count() >= 1  # inline, as elsewhere
    desktop.screenshot(path=str(shots / "desktop-alert-channel-form.png"), full_page=True)
    desktop.context.close()
