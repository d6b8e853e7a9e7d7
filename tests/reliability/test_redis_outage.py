"""Redis (cache + broker) stopped while people browse, then started again.

Real peers: a private redis-server on a free port (not the session one), a
gunicorn serving the console against it, a Celery worker using it, the sandbox
(AWS) and an HTTP receiver for alerts. Pages keep serving from the database with
the "Background work paused" banner; every action is kept and says it is queued
(no 500, no stuck row: the job waits in the outbox); when Redis is back, work
resumes with no manual step (the worker reconnects by itself; the periodic tasks
beat would send, the outbox sweep among them, are sent through the broker the same
way) and each action happens exactly once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from django.conf import settings
from django.urls import reverse

from clusters.core.jobs import QUEUED_WHILE_PAUSED
from clusters.models import Activation, QueuedJob, RegistrationRequest, SyncRun
from clusters.registration import REQUEST_TAG
from console.models import NotificationChannel, NotificationDelivery
from deployments.models import Redeploy, RedeployStatus
from tests.clusters.registration.conftest import requested
from tests.deployments.redeploy_fleet import fleet_create
from tests.factories import PASSWORD
from tests.peers import REPO, celery_worker_process, database_url_for_subprocess, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BANNER = "Background work paused"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _answers(self.port), timeout=10, interval=0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)
        self.proc = None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis(tmp_path) -> Iterator[Redis]:
    server = Redis(_free_port(), tmp_path)
    server.start()
    yield server
    if server.proc is not None:
        server.stop()


def _env(redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings_test",
            "DATABASE_URL": database_url_for_subprocess(),
            "FLEETDECK_DATA_DIR": str(settings.DATA_DIR),
            "REDIS_URL": redis_url,
            "FLEETDECK_REDEPLOY_POLL_SECONDS": "1",
        }
    )
    return env


@pytest.fixture
def web(redis, tmp_path) -> Iterator[str]:
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "console.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "60",
        ],
        cwd=REPO,
        env=_env(redis.url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    try:
        wait_until(up, timeout=30, interval=0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def _finished(log: Path, task: str) -> int:
    """How many runs of ``task`` the worker's log reports finished."""
    text = log.read_text() if log.exists() else ""
    return sum(1 for line in text.splitlines() if f"{task}[" in line and "succeeded" in line)


def _celery_call(redis_url: str, task: str) -> None:
    """What beat does on its schedule: publish a task through the broker."""
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "console", "call", task],
        cwd=REPO,
        env=_env(redis_url),
        check=True,
        capture_output=True,
        timeout=60,
    )


def _login(base: str, username: str) -> requests.Session:
    s = requests.Session()
    s.get(f"{base}/login/", timeout=10)
    r = s.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": s.cookies["csrftoken"],
        },
        timeout=10,
    )
    assert r.status_code == 200 and "Log out" in r.text, r.text[:500]
    return s


def _post(s: requests.Session, url: str, data: dict[str, str] | None = None) -> requests.Response:
    return s.post(url, data=data or {}, headers={"X-CSRFToken": s.cookies["csrftoken"]}, timeout=20)


@dataclass
class Receiver:
    """A real HTTP endpoint for the alert channel (the worker posts to it)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Kept:
    """What the actions taken while Redis was down left behind."""

    cluster_run: SyncRun
    account_run: SyncRun
    redeploy: Redeploy
    registration: RegistrationRequest
    delivery: NotificationDelivery


def _act_while_down(
    web: str,
    operator: requests.Session,
    admin: requests.Session,
    sandbox: Any,
    fleet: Any,
    reg: Any,
    channel: Any,
) -> Kept:
    """Every action answers (no 500), says it is queued, and keeps its change."""
    service = fleet.services["web"]
    cluster = service.cluster
    r = _post(operator, f"{web}{reverse('deployments:cluster-sync', args=[cluster.pk])}")
    assert r.status_code == 200 and f"Sync {QUEUED_WHILE_PAUSED}" in r.text, r.text[:500]
    r = _post(operator, f"{web}{reverse('deployments:account-sync', args=[cluster.account_id])}")
    assert r.status_code == 200 and f"Sync {QUEUED_WHILE_PAUSED}" in r.text, r.text[:500]
    runs = SyncRun.objects.filter(account=cluster.account).order_by("-pk")
    cluster_run = runs.filter(cluster=cluster).first()
    account_run = runs.filter(cluster=None).first()
    assert cluster_run is not None and account_run is not None
    for run in (cluster_run, account_run):
        assert (run.status, run.phase) == ("running", "queued")  # kept, waiting
    r = _post(
        operator,
        f"{web}{reverse('deployments:redeploy-start', args=[service.pk])}",
        {"reason": "outage test", "idempotency_key": "outage-1"},
    )
    assert r.status_code == 200 and QUEUED_WHILE_PAUSED in r.text, r.text[:500]
    redeploy = Redeploy.objects.get(service=service)
    assert redeploy.status == RedeployStatus.QUEUED
    assert sandbox_calls(sandbox, "ecs:UpdateService") == 0
    r = _post(admin, f"{web}{reverse('clusters:registration-approve', args=[reg.pk])}")
    assert r.status_code == 200 and QUEUED_WHILE_PAUSED in r.text, r.text[:500]
    reg.refresh_from_db()
    assert reg.state == RegistrationRequest.State.APPROVED  # not stuck: its job is kept
    r = _post(admin, f"{web}{reverse('alert-channel-test', args=[channel.pk])}")
    assert r.status_code == 200 and QUEUED_WHILE_PAUSED in r.text, r.text[:500]
    delivery = NotificationDelivery.objects.get(channel=channel)
    assert delivery.status == "pending"
    # Five jobs kept, each refused once by the broker, none sent.
    jobs = QueuedJob.objects.filter(task_name__in=OUTAGE_TASKS)
    assert sorted(jobs.values_list("task_name", "attempts", "sent_at")) == sorted(
        (name, 1, None) for name in OUTAGE_TASKS
    )
    return Kept(cluster_run, account_run, redeploy, reg, delivery)


OUTAGE_TASKS = (
    "deployments.tasks.sync_cluster",
    "deployments.tasks.sync_account",
    "deployments.redeploy.tasks.execute",
    "clusters.registration.tasks.activation_create",
    "console.alerts.tasks.deliver",
)


def sandbox_calls(sandbox: Any, call: str) -> int:
    return int(sandbox.client.request_counts().get(call, 0))


def _request_activations(sandbox: Any, reg: Any) -> list[str]:
    """The SSM activations the sandbox holds for this registration request."""
    ssm = boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=sandbox.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return [
        a["ActivationId"]
        for a in ssm.describe_activations()["ActivationList"]
        if {"Key": REQUEST_TAG, "Value": str(reg.pk)} in a.get("Tags", [])
    ]


def _done_once(kept: Kept) -> bool:
    for run in (kept.cluster_run, kept.account_run):
        run.refresh_from_db()
    return (
        kept.cluster_run.status == "succeeded"
        and kept.account_run.status == "succeeded"
        and Redeploy.objects.get(pk=kept.redeploy.pk).status != RedeployStatus.QUEUED
        and Activation.objects.filter(request=kept.registration).exists()
        and NotificationDelivery.objects.get(pk=kept.delivery.pk).status == "sent"
    )


def _assert_each_happened_once(kept: Kept, sandbox: Any, receiver: Receiver) -> None:
    assert sandbox_calls(sandbox, "ecs:UpdateService") == 1
    assert len(_request_activations(sandbox, kept.registration)) == 1
    assert Activation.objects.filter(request=kept.registration).count() == 1
    assert len([b for b in receiver.received if b.get("kind") == "test"]) == 1
    assert NotificationDelivery.objects.get(pk=kept.delivery.pk).attempts == 1
    assert not QueuedJob.objects.filter(sent_at__isnull=True).exists()


def test_redis_outage_keeps_pages_up_keeps_every_action_and_runs_each_once_after(
    sandbox, operator, admin_user, redis, web, tmp_path, receiver
) -> None:
    """One outage shared by every action that queues work: sync now (cluster and
    account), a forced redeploy, approving a registration (its activation), an alert
    delivery. Each is kept and said to be queued; once Redis is back, the outbox
    sweep sends each exactly once."""
    outage_seconds = 30.0  # the outage: Redis stopped for 30 s while users browse
    fleet = fleet_create(sandbox, desired=1, instances=1)
    service = fleet.services["web"]
    cluster = service.cluster
    reg = requested(operator, cluster)
    channel = NotificationChannel.objects.create(name="ops", kind="webhook", target=receiver.url)
    pages = [
        "/",
        "/timeline/",
        reverse("deployments:services"),
        reverse("deployments:cluster", args=[cluster.pk]),
        reverse("deployments:service", args=[service.pk]),
    ]
    log = tmp_path / "worker.log"
    with celery_worker_process({"REDIS_URL": redis.url}, log_path=log):
        s = _login(web, operator.username)
        admin = _login(web, admin_user.username)
        # The worker reports in on start: no banner.
        wait_until(lambda: BANNER not in s.get(f"{web}/", timeout=10).text, timeout=30)

        redis.stop()
        kept = _act_while_down(web, s, admin, sandbox, fleet, reg, channel)
        deadline = time.monotonic() + outage_seconds
        served = 0
        while time.monotonic() < deadline or served < len(pages):
            page = pages[served % len(pages)]
            r = s.get(f"{web}{page}", timeout=20)
            assert r.status_code == 200, (page, r.status_code, r.text[:300])
            assert BANNER in r.text, page
            served += 1
        # The actions have waited long enough for every page to say so.
        assert "5 actions are queued; they will run when background work resumes" in (
            s.get(f"{web}/", timeout=10).text
        )
        # Logging in still works (the login throttle's cache is down, the login is not).
        assert BANNER in _login(web, operator.username).get(f"{web}/", timeout=10).text

        redis.start()  # same port, empty (no persistence): the worst case
        # Work resumes with no manual step: a new "Sync now" runs on the worker ...
        r = _post(s, f"{web}{reverse('deployments:cluster-sync', args=[cluster.pk])}")
        assert r.status_code == 200 and "Sync started" in r.text
        try:
            wait_until(
                lambda: (
                    SyncRun.objects.filter(cluster=cluster, status="succeeded")
                    .exclude(pk=kept.cluster_run.pk)
                    .exists()
                ),
                timeout=60,
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        # ... and the periodic tasks beat sends (heartbeat, the outbox sweep) do the rest.
        _celery_call(redis.url, "console.ops.tasks.heartbeat")
        wait_until(lambda: BANNER not in s.get(f"{web}/", timeout=10).text, timeout=30)
        _celery_call(redis.url, "clusters.core.tasks.jobs_resend")
        try:
            wait_until(lambda: _done_once(kept), timeout=90, interval=0.5)
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        assert "will run when background work resumes" not in s.get(f"{web}/", timeout=10).text
        # A second sweep (another beat, a second worker) finds nothing left to send:
        # wait until the worker says both sweeps finished (not a fixed sleep, which a
        # slow machine could outlast and so pass with a late duplicate still coming).
        done_before = (
            _finished(log, "clusters.core.tasks.jobs_resend"),
            _finished(log, "deployments.redeploy.tasks.sweep"),
        )
        _celery_call(redis.url, "clusters.core.tasks.jobs_resend")
        _celery_call(redis.url, "deployments.redeploy.tasks.sweep")
        wait_until(
            lambda: (
                _finished(log, "clusters.core.tasks.jobs_resend") > done_before[0]
                and _finished(log, "deployments.redeploy.tasks.sweep") > done_before[1]
            ),
            timeout=60,
        )
    _assert_each_happened_once(kept, sandbox, receiver)
