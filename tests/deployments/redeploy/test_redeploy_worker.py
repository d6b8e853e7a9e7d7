"""The real path: a Celery worker process executes the redeploy and follows the
rollout to COMPLETED while the sandbox's clock moves."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.utils import timezone

from clusters.models import Cluster
from deployments.models import Deployment, Redeploy, RedeployStatus, Task
from deployments.redeploy import service_force_redeploy
from tests.deployments.redeploy.panel import counts_from_rows, panel_counts
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


def _stable_panel(client: Any, redeploy_id: int, web: Any, dep: str, old: set[str]) -> Any:
    """The panel's counts and the same counts from the rows, when no write landed
    while the panel was rendered (the worker writes concurrently); else None."""
    before = counts_from_rows(web, dep, old)
    body = client.get(f"/redeploys/{redeploy_id}/", HTTP_HX_REQUEST="true").content.decode()
    after = counts_from_rows(web, dep, old)
    return (panel_counts(body), after, body) if before == after else None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_panel_counts_are_the_rows_and_completed_is_fresh(
    sandbox, operator, operator_client, redis_url, tmp_path
) -> None:
    """The real worker follows a redeploy of 3 tasks while AWS's clock moves one
    step at a time. At every step the panel's numbers are the mirrored rows; the
    moment the worker reports Completed, the mirror (never synced by the test)
    shows the old deployment gone and no stopped task RUNNING."""
    from console.celery import app

    app.set_current()
    fleet = fleet_create(sandbox, desired=3, instances=2)
    web = fleet.services["web"]
    old = set(Task.objects.filter(service=web, last_status="RUNNING").values_list("arn", flat=True))
    old_deployment = Deployment.objects.get(service=web, status="PRIMARY")
    log = tmp_path / "worker.log"
    env = {
        "REDIS_URL": redis_url,
        "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        # Some rounds read the mirror without a cluster sync, as in production.
        "FLEETDECK_REDEPLOY_SYNC_MIN_SECONDS": "4",
    }
    seen: list[dict[str, int]] = []
    with celery_worker_process(env, log_path=log):
        result = service_force_redeploy(service_id=web.pk, actor=operator, reason="counts")
        try:
            redeploy = wait_until(
                lambda: (
                    Redeploy.objects.filter(pk=result.redeploy.pk)
                    .exclude(aws_deployment_id="")
                    .first()
                ),
                timeout=30,
            )
            dep = redeploy.aws_deployment_id
            for _ in range(8):
                ticked = timezone.now()
                sandbox.client.tick(1)
                if Redeploy.objects.get(pk=redeploy.pk).is_terminal:
                    break
                svc = fleet.ecs.describe_services(cluster="edge", services=["web"])["services"][0]
                if svc["deployments"][0]["rolloutState"] == "COMPLETED":
                    break  # the worker finishes it on its own
                wait_until(
                    lambda t=ticked: Cluster.objects.filter(
                        pk=web.cluster_id, last_sync_at__gt=t
                    ).exists(),
                    timeout=20,
                )
                shown, rows, body = wait_until(
                    lambda: _stable_panel(operator_client, redeploy.pk, web, dep, old), timeout=10
                )
                assert {k: shown[k] for k in rows} == rows, body
                seen.append(shown)
            redeploy = wait_until(
                lambda: Redeploy.objects.filter(pk=redeploy.pk, finished_at__isnull=False).first(),
                timeout=60,
            )
            # At once, as the worker reported it: no sync by the test in between.
            deployments = {
                d.deployment_id: d.status for d in Deployment.objects.filter(service=web)
            }
            stale = list(
                Task.objects.filter(service=web, last_status="RUNNING")
                .exclude(started_by=dep)
                .values_list("arn", "desired_status")
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    assert deployments[old_deployment.deployment_id] != "PRIMARY"
    assert deployments[dep] == "PRIMARY"
    assert stale == []
    assert Task.objects.filter(arn__in=old, last_status="STOPPED").count() == 3
    assert any(s["new-running"] == 3 and s["old-stopped"] < 3 for s in seen), seen
    final = panel_counts(
        operator_client.get(f"/redeploys/{redeploy.pk}/", HTTP_HX_REQUEST="true").content.decode()
    )
    assert final == {**counts_from_rows(web, dep, old), "desired": 3}
    assert final["old-stopped"] == 3 and final["new-running"] == 3
