"""Force a new deployment from the service page in a real browser and watch the
progress bar reach 100% without reloading the page."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from deployments.models import ACTIVE_STATUSES, Redeploy, RedeployStatus
from deployments.redeploy import redeploy_execute, redeploy_refresh
from tests.conftest import browser_login
from tests.deployments.redeploy_fleet import fleet_create
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _sync_every_refresh(settings) -> None:
    """The tests tick the sandbox and refresh at once: no shared-sync gap."""
    settings.FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS = 0


class RolloutDriver(threading.Thread):
    """Plays AWS's clock and the worker: ticks the sandbox and runs the redeploy
    services (execute, then refresh) for live redeploys, every half second."""

    def __init__(self, sandbox: Any) -> None:
        super().__init__(daemon=True)
        self.sandbox = sandbox
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(0.5):
                for r in Redeploy.objects.filter(status__in=ACTIVE_STATUSES):
                    if r.status == RedeployStatus.QUEUED:
                        redeploy_execute(redeploy_id=r.pk)
                    else:
                        self.sandbox.client.tick(1)
                        redeploy_refresh(redeploy_id=r.pk)
        except BaseException as exc:  # surfaced by the test
            self.errors.append(exc)
        finally:
            connection.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_force_new_deployment_and_watch_it_complete(
    page, live_server, sandbox, operator, artifacts_dir, settings
) -> None:
    fleet = fleet_create(sandbox, desired=4)
    web = fleet.services["web"]
    driver = RolloutDriver(sandbox)
    driver.start()
    try:
        browser_login(page, live_server, operator.username, PASSWORD)
        page.goto(f"{live_server.url}/services/{web.pk}/")
        page.fill("#redeploy-reason", "pick up the rotated database password")
        page.click("button:has-text('Force new deployment…')")
        # The confirmation replaces the panel in place and says what will happen.
        panel = page.locator("#service-actions")
        panel.locator("text=Force new deployment of web?").wait_for()
        assert "at least 4 task(s) keep running" in panel.inner_text()
        assert "4 task(s) now on 2 instance(s)" in panel.inner_text()
        page.screenshot(path=str(artifacts_dir / "redeploy-confirm.png"), full_page=True)
        url = page.url
        page.click("button:has-text('Force new deployment')")
        page.locator(".redeploy-progress").wait_for()
        page.locator(".flash-success").wait_for()  # "requested" flash from HX-Trigger

        # Polling (every 5 s) brings the rollout in; the page never reloads.
        page.wait_for_selector(".redeploy-progress[data-status='completed']", timeout=60_000)
        bar = page.locator("progress.redeploy-meter")
        assert bar.get_attribute("value") == bar.get_attribute("max") == "4"
        assert "(100%)" in page.locator(".redeploy-progress").inner_text()
        assert page.url == url
        flashes = page.locator("#flashes").inner_text()
        assert "Redeploy of web completed." in flashes
        page.screenshot(path=str(artifacts_dir / "redeploy-completed.png"), full_page=True)
    finally:
        driver.stop.set()
        driver.join(10)
    assert not driver.errors, driver.errors
    redeploy = Redeploy.objects.get()
    assert redeploy.status == RedeployStatus.COMPLETED
    assert redeploy.requested_by == operator
