"""Roll a broken release back from the service page in a real browser, with the
real Celery worker making the call and following it: the confirm step shows the
current and the target revision, the progress panel follows the rollback, and it
ends "rolled back" with AWS's PRIMARY deployment on the earlier revision."""

from __future__ import annotations

from typing import Any

import pytest

from deployments.models import Redeploy, RedeployKind, RedeployStatus
from tests.conftest import ARTIFACTS, browser_login
from tests.deployments.rollback.fleet import aws_primary, broken_release
from tests.factories import PASSWORD
from tests.peers import celery_worker_process, wait_until


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_roll_back_a_failed_release_and_watch_it(
    page, live_server, sandbox, operator, redis_url, tmp_path
) -> None:
    from console.celery import app

    app.set_current()  # the view queues through Fleetdeck's own Celery app
    fleet, _ = broken_release(sandbox)
    web = fleet.services["web"]
    log = tmp_path / "worker.log"
    env = {
        "REDIS_URL": redis_url,
        "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        "FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS": "1",
    }
    with celery_worker_process(env, log_path=log):
        try:
            _watch(page, live_server, sandbox, operator.username, web)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker log ---\n{log.read_text()[-3000:]}") from exc
    rollback = Redeploy.objects.get()
    assert rollback.kind == RedeployKind.ROLLBACK and rollback.status == RedeployStatus.COMPLETED
    assert rollback.requested_by == operator
    primary = aws_primary(fleet)
    assert primary["taskDefinition"] == fleet.task_definition_arn
    assert primary["rolloutState"] == "COMPLETED" and primary["id"] == rollback.aws_deployment_id


def _watch(page: Any, live_server: Any, sandbox: Any, username: str, web: Any) -> None:
    browser_login(page, live_server, username, PASSWORD)
    page.goto(f"{live_server.url}/services/{web.pk}/")
    page.evaluate("window.fleetdeckNotReloaded = true")
    page.click("button:has-text('Roll back to app:1 (last revision that completed)')")
    panel = page.locator("#service-actions")
    panel.locator("text=Roll back web to app:1?").wait_for()
    assert "app:2" in panel.locator(".rollback-current").inner_text()
    assert "the last revision that completed" in panel.locator(".rollback-target").inner_text()
    assert panel.locator("#rollback-diff").count() == 1
    page.fill("#rollback-reason", "app:2 crashes on start (missing env)")
    page.screenshot(path=str(ARTIFACTS / "rollback-confirm.png"), full_page=True)
    page.click("button:has-text('Roll back to app:1')")
    page.locator(".redeploy-progress").wait_for()
    page.locator(".flash-success").wait_for()  # "Rollback of web requested."
    rollback = wait_until(lambda: Redeploy.objects.exclude(aws_deployment_id="").first(), 30)
    # The panel's poll shows the new deployment the worker started (AWS's clock still).
    page.locator(".redeploy-new", has_text=rollback.aws_deployment_id).wait_for(timeout=20_000)
    text = page.locator(".redeploy-progress").inner_text()
    assert "Rollback #" in text and "to app:1" in text and "In progress" in text
    page.screenshot(path=str(ARTIFACTS / "rollback-progress.png"), full_page=True)

    def completed() -> bool:
        sandbox.client.tick(1)
        return page.locator(".redeploy-progress[data-status='completed']").count() == 1

    wait_until(completed, timeout=60, interval=1.5)
    page.locator("#flashes", has_text="web rolled back to app:1.").wait_for(timeout=10_000)
    assert page.evaluate("window.fleetdeckNotReloaded") is True
    page.screenshot(path=str(ARTIFACTS / "rollback-completed.png"), full_page=True)
