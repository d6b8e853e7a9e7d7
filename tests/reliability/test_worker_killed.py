"""A real Celery worker killed with SIGKILL in the middle of AWS work, then
restarted: each piece of work converges, checked through AWS's own view.

The kill lands at a precise moment: the sandbox stalls the one AWS call the work
is making (a "stall" fault), the test waits until that call has reached AWS,
then SIGKILLs the worker's process group while the call hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters import registration as reg_services
from clusters.models import Activation, RegistrationRequest, SyncRun
from clusters.registration import REQUEST_TAG
from deployments.models import Redeploy, RedeployStatus, Task
from deployments.redeploy import STALE_REQUEST, redeploys_sweep, service_force_redeploy
from tests.clusters.registration.conftest import make_fleet, requested
from tests.deployments.redeploy_fleet import fleet_create
from tests.ecs_seed import boto
from tests.peers import celery_worker_process, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fleetdeck_app() -> None:
    # Another test's Celery app may be current; publish through Fleetdeck's own.
    from console.celery import app

    app.set_current()


def _env(redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        "FLEETDECK_SYNC_LOCK_SECONDS": "3",
    }


def _kill_when_called(sandbox, proc: subprocess.Popen[bytes], op: str, log: Path) -> None:
    """SIGKILL the worker once ``op`` has reached the sandbox (where it is stalled)."""
    try:
        wait_until(lambda: sandbox.client.request_counts().get(op, 0) >= 1, timeout=60)
    except AssertionError:
        raise AssertionError(log.read_text()[-3000:]) from None
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def test_sync_killed_mid_call_completes_after_restart(sandbox, redis_url, tmp_path) -> None:
    from deployments.tasks import sync_cluster

    fleet = fleet_create(sandbox, desired=3, instances=2)
    cluster = fleet.services["web"].cluster
    # The fleet moves while the worker is dead: one task dies and is replaced.
    victim = next(iter(Task.objects.filter(cluster=cluster, last_status="RUNNING")))
    sandbox.client.reset_request_counts()
    sandbox.client.set_faults(
        [
            {
                "service": "ecs",
                "operation": "DescribeTasks",
                "fault": "stall",
                "count": 1,
                "stall_seconds": 8,
            }
        ]
    )
    log = tmp_path / "worker.log"
    with celery_worker_process(_env(redis_url), log_path=log) as proc:
        sync_cluster.delay(cluster.pk)
        _kill_when_called(sandbox, proc, "ecs:DescribeTasks", log)
    dead = SyncRun.objects.filter(cluster=cluster, status="running").first()
    assert dead is not None  # the killed sync left its run open ...
    sandbox.client.clear_faults()
    sandbox.client.stop_task(victim.arn, exit_code=137, reason="killed while the worker was down")
    sandbox.client.tick(2)
    time.sleep(3.5)  # ... and its lock, which nobody renews any more, expires

    with celery_worker_process(_env(redis_url), log_path=log):
        sync_cluster.delay(cluster.pk)

        def finished() -> SyncRun | None:
            return (
                SyncRun.objects.filter(cluster=cluster, status="succeeded")
                .exclude(pk=dead.pk)
                .filter(started_at__gt=dead.started_at)
                .first()
            )

        try:
            wait_until(finished, timeout=60, interval=0.5)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert any("worker stopped" in e for e in dead.errors)
    ecs = boto("ecs", sandbox.url)
    arns = ecs.list_tasks(cluster="edge")["taskArns"]
    running = {
        t["taskArn"]
        for t in ecs.describe_tasks(cluster="edge", tasks=arns)["tasks"]
        if t["lastStatus"] == "RUNNING"
    }
    mirrored = set(
        Task.objects.filter(
            cluster=cluster, gone_at__isnull=True, last_status="RUNNING"
        ).values_list("arn", flat=True)
    )
    assert mirrored == running
    assert Task.objects.get(arn=victim.arn).last_status == "STOPPED"


def test_redeploy_killed_mid_call_happens_exactly_once(sandbox, operator, redis_url, tmp_path):
    from deployments.redeploy.tasks import redeploy_track_task

    fleet = fleet_create(sandbox, desired=2, instances=1)
    web = fleet.services["web"]
    sandbox.client.reset_request_counts()
    sandbox.client.set_faults(
        [
            {
                "service": "ecs",
                "operation": "UpdateService",
                "fault": "stall",
                "count": 1,
                "stall_seconds": 4,
            }
        ]
    )
    log = tmp_path / "worker.log"
    with celery_worker_process(_env(redis_url), log_path=log) as proc:
        result = service_force_redeploy(service_id=web.pk, actor=operator, reason="kill test")
        _kill_when_called(sandbox, proc, "ecs:UpdateService", log)
    redeploy = Redeploy.objects.get(pk=result.redeploy.pk)
    assert redeploy.status == RedeployStatus.REQUESTED  # died inside the call
    sandbox.client.clear_faults()
    time.sleep(4.5)  # the stalled call goes through in AWS after the worker died
    with celery_worker_process(_env(redis_url), log_path=log):
        # The sweep runs every minute and judges calls older than STALE_REQUEST: run
        # it as the restarted worker would, five minutes later, instead of waiting.
        swept = redeploys_sweep(now=timezone.now() + STALE_REQUEST + timedelta(seconds=1))
        assert swept.lost == [] and redeploy.pk in swept.to_track
        for pk in swept.to_track:
            redeploy_track_task.delay(pk)

        def done() -> Redeploy | None:
            sandbox.client.tick(1)
            time.sleep(0.3)
            r = Redeploy.objects.get(pk=redeploy.pk)
            return r if r.is_terminal else None

        try:
            redeploy = wait_until(done, timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    assert redeploy.status == RedeployStatus.COMPLETED, redeploy.aws_error
    # Through AWS's view: one UpdateService, and the deployment it started is the
    # one the redeploy followed.
    assert sandbox.client.request_counts().get("ecs:UpdateService") == 1
    svc = boto("ecs", sandbox.url).describe_services(cluster="edge", services=["web"])
    primary = [d for d in svc["services"][0]["deployments"] if d["status"] == "PRIMARY"]
    assert [d["id"] for d in primary] == [redeploy.aws_deployment_id]


def test_activation_killed_mid_call_is_replaced_exactly_once(
    sandbox, operator, admin_user, second_admin, redis_url, tmp_path
) -> None:
    """The worker dies inside CreateActivation: AWS creates the activation, but its
    code (returned only by that call) dies with the worker. After a restart the
    refresh links the activation to its request without creating another; once no
    live call can still return the code, it is deleted in AWS and replaced by exactly
    one new activation whose code an admin can reveal and a machine can use."""
    from clusters.registration.tasks import activation_create_task, activations_refresh_all

    fleet = make_fleet(sandbox)
    reg = requested(operator, fleet.cluster)
    sandbox.client.reset_request_counts()
    sandbox.client.set_faults(
        [
            {
                "service": "ssm",
                "operation": "CreateActivation",
                # AWS creates it at once; the answer (with the code) waits.
                "fault": "stall_after",
                "count": 1,
                "stall_seconds": 4,
            }
        ]
    )
    log = tmp_path / "worker.log"
    with celery_worker_process(_env(redis_url), log_path=log) as proc:
        reg_services.registration_approve(actor=admin_user, registration_request_id=reg.pk)
        _kill_when_called(sandbox, proc, "ssm:CreateActivation", log)
    assert not Activation.objects.filter(request=reg).exists()
    sandbox.client.clear_faults()
    ssm = boto("ssm", sandbox.url)

    def mine() -> list[dict]:
        return [
            a
            for a in ssm.describe_activations()["ActivationList"]
            if {t["Key"]: t["Value"] for t in a.get("Tags", [])}.get(REQUEST_TAG) == str(reg.pk)
        ]

    (lost,) = mine()
    with celery_worker_process(_env(redis_url), log_path=log):
        # The periodic refresh finds it; the create message, delivered again (as the
        # broker does for an unacknowledged task), must not make a second one.
        activations_refresh_all.delay()
        try:
            wait_until(lambda: Activation.objects.filter(request=reg).exists(), timeout=60)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        activation_create_task.delay(reg.pk)
        activations_refresh_all.delay()
        time.sleep(3)
        assert [a["ActivationId"] for a in mine()] == [lost["ActivationId"]]
        assert sandbox.client.request_counts().get("ssm:CreateActivation") == 1
        linked = Activation.objects.get(request=reg)
        assert linked.activation_id == lost["ActivationId"] and not linked.encrypted_code
        # The request's page says what happened and that nothing needs doing.
        page = Client()
        page.force_login(operator)
        html = page.get(reverse("clusters:registration-detail", args=[reg.pk])).content.decode()
        assert "waiting for its code" in html and lost["ActivationId"] in html
        assert "replaces the activation by itself" in html
        # Within the grace period a late answer could still bring the code: nothing moves.
        assert reg_services.activations_codeless_replace() == []
        # Past it (Celery's hard time limit has killed any such call), as the
        # refresh would run then; the restarted worker creates the replacement.
        later = timezone.now() + reg_services.codeless_grace() + timedelta(seconds=1)
        assert reg_services.activations_codeless_replace(now=later) == [reg.pk]

        def replaced() -> Activation | None:
            row = Activation.objects.filter(request=reg).first()
            return row if row is not None and row.encrypted_code else None

        try:
            fresh = wait_until(replaced, timeout=60)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        # Delivered again, the old create message and a second replace change nothing.
        activation_create_task.delay(reg.pk)
        assert reg_services.activations_codeless_replace(now=later) == []
        time.sleep(2)
    # Through AWS's view: exactly one activation for the request, the new one.
    assert [a["ActivationId"] for a in mine()] == [fresh.activation_id]
    assert fresh.activation_id != lost["ActivationId"]
    assert sandbox.client.request_counts().get("ssm:CreateActivation") == 2
    assert sandbox.client.request_counts().get("ssm:DeleteActivation") == 1
    old = Activation.objects.get(activation_id=lost["ActivationId"])
    assert old.state == Activation.State.REVOKED and old.request_id is None
    assert RegistrationRequest.objects.get(pk=reg.pk).state == RegistrationRequest.State.ACTIVE
    # The new code is real: an admin reveals it and a machine registers with it.
    revealed = reg_services.activation_reveal(actor=second_admin, activation_pk=fresh.pk)
    joined = sandbox.client.register_instance(
        activation_id=fresh.activation_id, activation_code=revealed.code, cluster="edge"
    )
    assert joined["instanceId"].startswith("mi-")
