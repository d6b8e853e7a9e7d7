"""Redis stopped while admins admit, reject, decommission and operators restart/stop
containers: each action is accepted (no 500), its row stays in its in-flight state
(ADMITTING, REJECTING, DECOMMISSIONING, a QUEUED ContainerAction), the page says it
will run when background work resumes, and no AWS or Docker call is made; once Redis
is back, the outbox sweep (clusters.core.tasks.jobs_resend) sends it and it runs on a
real worker exactly once (a second sweep sends nothing).

Real peers: a private redis-server, a gunicorn serving the console and a Celery
worker on it (the fixtures of test_redis_outage.py), the sandbox, the Docker engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.urls import reverse

from clusters import registration as svc
from clusters.core.jobs import RESEND_AFTER
from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.models import (
    AuditEntry,
    Container,
    ContainerAction,
    DecommissionRequest,
    Event,
    InstanceAdmission,
    QueuedJob,
)
from clusters.registration.tasks import instance_admit_task
from tests.clusters.docker_helpers import DOCKER_URL
from tests.clusters.registration.conftest import activated, make_fleet
from tests.peers import REPO, celery_worker_process, wait_until
from tests.reliability import test_redis_outage as outage
from tests.reliability.test_redis_outage import _env, _login, _post

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The private redis-server and the gunicorn serving the console against it.
redis = outage.redis
web = outage.web

AWS_WRITES = (
    "ecs:UpdateContainerInstancesState",
    "ecs:PutAttributes",
    "ecs:DeleteAttributes",
    "ecs:DeregisterContainerInstance",
    "ssm:DeregisterManagedInstance",
)


def _send(redis_url: str, task: str, *args: int) -> None:
    """Publish a task through the broker, as beat does on its schedule."""
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "console", "call", task, "--args", json.dumps(args)],
        cwd=REPO,
        env=_env(redis_url),
        check=True,
        capture_output=True,
        timeout=60,
    )


def _writes(sandbox) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = sandbox.client.request_counts()
    return {op: counts.get(op, 0) for op in AWS_WRITES}


def _join_three(fleet, operator, admin_user) -> list[InstanceAdmission]:  # type: ignore[no-untyped-def]
    activation = activated(operator, admin_user, fleet.cluster, registration_limit=3)
    code = svc.activation_reveal(actor=operator, activation_pk=activation.pk).code
    for name in ("to-admit", "to-reject", "to-retire"):
        fleet.sandbox.client.register_instance(
            activation_id=activation.activation_id,
            activation_code=code,
            cluster="edge",
            hostname=name,
        )
    admissions = svc.waiting_room_scan(cluster=fleet.cluster)
    return sorted(admissions, key=lambda a: a.hostname)  # to-admit, to-reject, to-retire


def test_admit_reject_decommission_accepted_in_an_outage_then_run_once(
    sandbox, operator, admin_user, redis, web, tmp_path
) -> None:
    fleet = make_fleet(sandbox)
    admit, reject, retire = _join_three(fleet, operator, admin_user)
    svc.instance_admit(actor=admin_user, admission_pk=retire.pk)
    instance_admit_task(retire.pk)
    assert retire.container_instance is not None
    decom = svc.decommission_request(
        actor=operator, container_instance=retire.container_instance, reason="Replaced"
    )
    log = tmp_path / "worker.log"
    with celery_worker_process({"REDIS_URL": redis.url}, log_path=log):
        s = _login(web, admin_user.username)
        redis.stop()
        before = _writes(sandbox)
        for url, data in (
            (reverse("clusters:admission-admit", args=[admit.pk]), {}),
            (reverse("clusters:admission-reject", args=[reject.pk]), {"reason": "Not ours"}),
            (reverse("clusters:decommission-confirm", args=[decom.pk]), {}),
        ):
            r = _post(s, f"{web}{url}", data)
            assert r.status_code == 200 and "background work resumes" in r.text, (url, r.text[:300])
        states = {
            InstanceAdmission.objects.get(pk=admit.pk).state,
            InstanceAdmission.objects.get(pk=reject.pk).state,
            DecommissionRequest.objects.get(pk=decom.pk).state,
        }
        assert states == {"admitting", "rejecting", "decommissioning"}
        assert _writes(sandbox) == before  # nothing called AWS
        assert QueuedJob.objects.filter(sent_at__isnull=True).count() == 3  # kept for the sweep

        redis.start()  # same port, empty: the messages sent during the outage are lost
        time.sleep(RESEND_AFTER.total_seconds())  # the sweep leaves younger jobs to their hook
        for _ in range(2):  # the sweep resends each job once; a second sweep sends nothing
            _send(redis.url, "clusters.core.tasks.jobs_resend")
        try:
            wait_until(
                lambda: (
                    DecommissionRequest.objects.get(pk=decom.pk).state == "done"
                    and InstanceAdmission.objects.get(pk=admit.pk).state == "admitted"
                    and InstanceAdmission.objects.get(pk=reject.pk).state == "rejected"
                ),
                timeout=60,
            )
            wait_until(lambda: not QueuedJob.objects.filter(sent_at__isnull=True).exists())
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    after = _writes(sandbox)
    delta = {op: after[op] - before[op] for op in AWS_WRITES}
    assert delta == {
        "ecs:UpdateContainerInstancesState": 2,  # admit: ACTIVE; decommission: DRAINING
        "ecs:PutAttributes": 1,
        "ecs:DeleteAttributes": 1,
        "ecs:DeregisterContainerInstance": 2,  # reject, decommission
        "ssm:DeregisterManagedInstance": 2,
    }
    for action in ("instance.admit", "instance.reject", "decommission.confirm"):
        assert AuditEntry.objects.filter(action=action).count() == (
            2 if action == "instance.admit" else 1
        )


def test_container_restart_and_stop_accepted_in_an_outage_then_run_once(
    engine, operator, redis, web, tmp_path
) -> None:
    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    plain = engine.run("plain")
    busy = engine.run("busy")
    docker_host_sync(host_id=host.pk)
    started = busy.client.api.inspect_container(busy.id)["State"]["StartedAt"]
    log = tmp_path / "worker.log"
    with celery_worker_process({"REDIS_URL": redis.url}, log_path=log):
        s = _login(web, operator.username)
        redis.stop()
        for container, verb in ((plain, "stop"), (busy, "restart")):
            url = reverse("clusters:docker-container-action", args=["local", container.id])
            r = _post(s, f"{web}{url}", {"action": verb, "reason": "outage", "confirm": "on"})
            assert r.status_code == 200 and "background work resumes" in r.text, r.text[:300]
        stop = ContainerAction.objects.get(action="stop")
        restart = ContainerAction.objects.get(action="restart")
        assert {stop.status, restart.status} == {"queued"}
        assert plain.client.api.inspect_container(plain.id)["State"]["Running"]
        assert busy.client.api.inspect_container(busy.id)["State"]["StartedAt"] == started

        redis.start()
        assert QueuedJob.objects.filter(sent_at__isnull=True).count() == 2  # kept for the sweep
        time.sleep(RESEND_AFTER.total_seconds())  # the sweep leaves younger jobs to their hook
        for _ in range(2):  # the sweep resends each job once; a second sweep sends nothing
            _send(redis.url, "clusters.core.tasks.jobs_resend")
        try:
            wait_until(
                lambda: ContainerAction.objects.filter(status="done").count() == 2, timeout=90
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
    stop.refresh_from_db()
    restart.refresh_from_db()
    assert stop.status == "done" and stop.message == f"Stopped {plain.name} on local."
    assert restart.status == "done" and restart.message == f"Restarted {busy.name} on local."
    assert not plain.client.api.inspect_container(plain.id)["State"]["Running"]
    assert Container.objects.get(container_id=plain.id).state == "exited"
    restarted = busy.client.api.inspect_container(busy.id)["State"]
    assert restarted["Running"] and restarted["StartedAt"] != started
    for verb in ("stop", "restart"):
        assert AuditEntry.objects.filter(action=f"container.{verb}").count() == 1
        outcomes = Event.objects.filter(source="docker", details__action=f"container.{verb}")
        assert outcomes.count() == 1  # the Docker call ran once
