"""Force a new deployment from the service page in a real browser, with the real
Celery worker following it, and watch it complete without reloading the page: the
progress panel counts the mirrored rows mid-way, and the moment it says Completed
the deployments and tasks sections show the new deployment alone."""

from __future__ import annotations

import pytest

from deployments.models import Deployment, Redeploy, RedeployStatus, Task
from tests.conftest import ARTIFACTS, browser_login
from tests.deployments.redeploy_fleet import fleet_create
from tests.factories import PASSWORD
from tests.peers import celery_worker_process, wait_until


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_force_new_deployment_and_watch_it_complete(
    page, live_server, sandbox, operator, artifacts_dir, redis_url, tmp_path
) -> None:
    from console.celery import app

    app.set_current()  # the view queues through Fleetdeck's own Celery app
    fleet = fleet_create(sandbox, desired=4)
    web = fleet.services["web"]
    old = list(Task.objects.filter(service=web, last_status="RUNNING"))
    old_deployment = Deployment.objects.get(service=web, status="PRIMARY")
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security" in m.text else None)
    log = tmp_path / "worker.log"
    env = {
        "REDIS_URL": redis_url,
        "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        "FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS": "2",
    }
    with celery_worker_process(env, log_path=log):
        try:
            _watch(page, live_server, sandbox, operator.username, web, old, old_deployment)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{log.read_text()[-3000:]}") from exc
    assert not csp, csp
    redeploy = Redeploy.objects.get()
    assert redeploy.status == RedeployStatus.COMPLETED
    assert redeploy.requested_by == operator


def _watch(page, live_server, sandbox, username, web, old, old_deployment) -> None:  # type: ignore[no-untyped-def]
    """Start the redeploy in the page and follow it, stepping AWS's clock."""
    artifacts_dir = ARTIFACTS
    browser_login(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/services/{web.pk}/")
    page.evaluate("window.fleetdeckNotReloaded = true")
    live = page.locator("#service-live")
    assert live.get_attribute("data-in-flight") == "false"
    page.fill("#redeploy-reason", "pick up the rotated database password")
    page.click("button:has-text('Force new deployment…')")
    panel = page.locator("#service-actions")
    panel.locator("text=Force new deployment of web?").wait_for()
    assert "at least 4 task(s) keep running" in panel.inner_text()
    page.screenshot(path=str(artifacts_dir / "redeploy-confirm.png"), full_page=True)
    page.click("button:has-text('Force new deployment')")
    page.locator(".redeploy-progress").wait_for()
    page.locator(".flash-success").wait_for()  # "requested" flash from HX-Trigger
    # The sections start polling at once (the redeploy-changed client event).
    page.wait_for_selector("#service-live[data-in-flight='true']", timeout=5_000)
    redeploy = wait_until(lambda: Redeploy.objects.exclude(aws_deployment_id="").first(), 30)

    # AWS's clock, two steps: the 4 new tasks start, then run while the 4 old stop.
    sandbox.client.tick(2)
    bar = page.locator(".redeploy-bar[data-old-stopping='4'][data-new-running='4']")
    bar.wait_for(timeout=30_000)
    text = page.locator(".redeploy-progress").inner_text()
    assert "4/4 running" in text and "0/4 stopped, 4 stopping" in text and "(100%)" not in text
    assert "has stopped 4 running tasks" in text  # the event beside the numbers
    # The deployments section shows both deployments, polled while in flight.
    page.locator("#deployments tbody tr").nth(1).wait_for(timeout=10_000)
    assert page.locator("#deployments tbody tr").count() == 2
    # The tasks section (polled too) marks the 4 old tasks as stopping.
    page.locator("#tasks .task-stopping").nth(3).wait_for(timeout=10_000)
    assert page.locator("#tasks .task-stopping").count() == 4
    page.screenshot(path=str(artifacts_dir / "redeploy-midway.png"), full_page=True)

    sandbox.client.tick(1)  # the old tasks stop: AWS says COMPLETED
    page.wait_for_selector(".redeploy-progress[data-status='completed']", timeout=30_000)
    # Within a second or two, not the next 5 s poll: the event reloads the sections.
    page.wait_for_selector("#service-live[data-in-flight='false']", timeout=4_000)
    rows = page.locator("#deployments tbody tr")
    assert rows.count() == 2
    old_row = rows.filter(has_text=old_deployment.deployment_id)
    new_row = rows.filter(has_text=redeploy.aws_deployment_id)
    assert "INACTIVE" in old_row.inner_text() and "PRIMARY" not in old_row.inner_text()
    assert "PRIMARY" in new_row.inner_text() and "COMPLETED" in new_row.inner_text()
    tasks = page.locator("#tasks").inner_text()  # the RUNNING filter, the default
    assert tasks.count("RUNNING") == 4
    assert not [t.short_id[:11] for t in old if t.short_id[:11] in tasks]
    text = page.locator(".redeploy-progress").inner_text()
    assert "Replaced 8 of 8 (100%)" in text and "4/4 stopped" in text
    # The actions panel is back (reloaded by the same event), with the outcome.
    page.locator("button:has-text('Force new deployment…')").wait_for(timeout=5_000)
    assert "Redeploy of web completed." in page.locator("#flashes").inner_text()
    assert page.evaluate("window.fleetdeckNotReloaded") is True
    page.screenshot(path=str(artifacts_dir / "redeploy-completed.png"), full_page=True)
