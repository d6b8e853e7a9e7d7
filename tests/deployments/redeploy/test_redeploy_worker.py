"""The real path: a Celery worker process executes the redeploy and follows the
rollout to COMPLETED while the sandbox's clock moves."""

from __future__ import annotations

import time

import pytest

from deployments.models import Redeploy, RedeployStatus
from deployments.redeploy import service_force_redeploy
from tests.deployments.redeploy_fleet import fleet_create
from tests.peers import celery_worker_process, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_executes_and_tracks_a_redeploy(sandbox, operator, redis_url, tmp_path) -> None:
    # Another test's client Celery app may have made itself the current app; the
    # shared tasks must publish through Fleetdeck's own app (as in production).
    from console.celery import app

    app.set_current()
    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    log = tmp_path / "worker.log"
    env = {
        "REDIS_URL": redis_url,
        "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        "FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS": "0",
    }
    with celery_worker_process(env, log_path=log):
        # Outside a transaction, on_commit enqueues at once.
        result = service_force_redeploy(service_id=web.pk, actor=operator, reason="worker")

        def done() -> Redeploy | None:
            sandbox.client.tick(1)
            time.sleep(0.3)
            redeploy = Redeploy.objects.get(pk=result.redeploy.pk)
            return redeploy if redeploy.is_terminal else None

        try:
            redeploy = wait_until(done, timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    assert redeploy.deployment is not None and redeploy.deployment.rollout_state == "COMPLETED"
    assert sandbox.client.request_counts().get("ecs:UpdateService") == 1
