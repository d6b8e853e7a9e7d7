"""Redis (cache + broker) stopped while people browse, then started again.

Real peers: a private redis-server on a free port (not the session one), a
gunicorn serving the console against it, and a Celery worker using it. Pages keep
serving from the database with the "Background work paused" banner; actions say
they could not be queued (no 500); when Redis is back, work resumes with no
manual step (the worker reconnects by itself; the periodic tasks beat would send
are sent through the broker the same way)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from clusters.models import SyncRun
from deployments.models import Redeploy, RedeployStatus
from deployments.views import NOT_QUEUED
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


def test_redis_outage_keeps_pages_up_refuses_actions_clearly_and_recovers(
    sandbox, operator, redis, web, tmp_path
) -> None:
    outage_seconds = 30.0  # the outage: Redis stopped for 30 s while users browse
    fleet = fleet_create(sandbox, desired=1, instances=1)
    service = fleet.services["web"]
    cluster = service.cluster
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
        # The worker reports in on start: no banner.
        wait_until(lambda: BANNER not in s.get(f"{web}/", timeout=10).text, timeout=30)

        redis.stop()
        deadline = time.monotonic() + outage_seconds
        served = 0
        while time.monotonic() < deadline or served < len(pages):
            page = pages[served % len(pages)]
            r = s.get(f"{web}{page}", timeout=20)
            assert r.status_code == 200, (page, r.status_code, r.text[:300])
            assert BANNER in r.text, page
            served += 1
        # Logging in still works (the login throttle's cache is down, the login is not).
        assert BANNER in _login(web, operator.username).get(f"{web}/", timeout=10).text
        # Actions say plainly they could not be queued.
        r = _post(s, f"{web}{reverse('deployments:cluster-sync', args=[cluster.pk])}")
        assert r.status_code == 200 and "Sync not started" in r.text
        refused = SyncRun.objects.filter(cluster=cluster).first()
        assert refused is not None and refused.status == "failed"
        assert NOT_QUEUED in refused.errors
        r = _post(
            s,
            f"{web}{reverse('deployments:redeploy-start', args=[service.pk])}",
            {"reason": "outage test", "idempotency_key": "outage-1"},
        )
        assert r.status_code == 200 and "could not be queued" in r.text, r.text[:500]
        redeploy = Redeploy.objects.get(service=service)
        assert redeploy.status == RedeployStatus.QUEUED
        assert sandbox.client.request_counts().get("ecs:UpdateService", 0) == 0

        redis.start()  # same port, empty (no persistence): the worst case
        # Work resumes with no manual step: a new "Sync now" runs on the worker ...
        r = _post(s, f"{web}{reverse('deployments:cluster-sync', args=[cluster.pk])}")
        assert r.status_code == 200 and "Sync started" in r.text
        try:
            wait_until(
                lambda: (
                    SyncRun.objects.filter(cluster=cluster, status="succeeded")
                    .exclude(pk=refused.pk)
                    .exists()
                ),
                timeout=60,
            )
        except AssertionError:
            raise AssertionError(log.read_text()[-3000:]) from None
        # ... and the periodic tasks (heartbeat, redeploy sweep) pick up the rest.
        _celery_call(redis.url, "console.ops.tasks.heartbeat")
        wait_until(lambda: BANNER not in s.get(f"{web}/", timeout=10).text, timeout=30)
        _celery_call(redis.url, "deployments.redeploy.tasks.sweep")
        wait_until(
            lambda: Redeploy.objects.get(pk=redeploy.pk).status != RedeployStatus.QUEUED,
            timeout=60,
        )
    assert sandbox.client.request_counts().get("ecs:UpdateService") == 1
