"""A Docker host drops off the network and comes back (a loopback TCP proxy in
front of the real engine, paused and resumed), with the watcher process running
throughout: the mirrored data is kept, a host-unreachable drift finding opens and
resolves, and the watcher catches up on the events it missed - each exactly once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from clusters.docker_hosts import docker_host_create, docker_host_sync
from clusters.models import Container, DockerHost, Event
from deployments.drift.evaluation import drift_evaluate
from deployments.models import DriftFinding, DriftKind
from tests.clusters.docker_helpers import watcher_kill, watcher_start
from tests.clusters.docker_hosts.test_watcher import EngineLog, _timeline
from tests.peers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _open() -> list[DriftFinding]:
    return list(
        DriftFinding.objects.filter(kind=DriftKind.HOST_UNREACHABLE, resolved_at__isnull=True)
    )


def test_host_unreachable_and_back(engine, tcp_proxy, artifacts_dir) -> None:
    truth = EngineLog(engine)
    host = docker_host_create(name="remote", endpoint=tcp_proxy.url)
    a = engine.run("a")
    log = artifacts_dir / "watcher-outage.log"
    log.unlink(missing_ok=True)
    proc = watcher_start(log)
    try:
        wait_until(
            lambda: Container.objects.filter(
                host=host, container_id=a.id, state="running"
            ).exists(),
            timeout=30,
        )
        wait_until(
            lambda: DockerHost.objects.filter(
                pk=host.pk, watcher_connected_at__isnull=False
            ).exists(),
            timeout=20,
        )

        tcp_proxy.pause()  # the host is gone from the network
        result = docker_host_sync(host_id=host.pk)
        assert result is not None and not result.ok
        wait_until(
            lambda: DockerHost.objects.filter(
                pk=host.pk, watcher_connected_at__isnull=True
            ).exists(),
            timeout=20,
        )
        # Things happen on the host while nobody can see it.
        a.kill()
        a.wait(timeout=60)
        b = engine.run("b")
        # Data kept: the last known rows stay, none marked gone.
        row = Container.objects.get(host=host, container_id=a.id)
        assert row.gone_at is None and row.state == "running"
        interval = settings.FLEETDECK_DOCKER_SYNC_INTERVAL_SECONDS
        drift_evaluate(now=timezone.now() + timedelta(seconds=2 * interval + 1))
        (finding,) = _open()
        assert finding.docker_host_id == host.pk and finding.severity == "error"
        host.refresh_from_db()
        assert not host.reachable and host.unreachable_since is not None

        tcp_proxy.resume()  # back on the same address
        # The watcher reconnects by itself (backoff) and replays what it missed.
        ids = {a.id, b.id}
        try:
            wait_until(lambda: _timeline(ids) == truth.seen, timeout=45, interval=0.3)
        except AssertionError:
            raise AssertionError(
                f"timeline {_timeline(ids)} != engine {truth.seen}\n{log.read_text()[-2000:]}"
            ) from None
        time.sleep(1.0)  # a duplicate would show up now
        assert _timeline(ids) == truth.seen
        assert truth.seen[(a.id, "die")] == 1 and truth.seen[(b.id, "start")] == 1
        wait_until(
            lambda: Container.objects.filter(host=host, container_id=a.id, state="exited").exists(),
            timeout=15,
        )
        assert Container.objects.get(host=host, container_id=a.id).exit_code == 137
        assert Container.objects.filter(host=host, container_id=b.id, state="running").exists()
        host.refresh_from_db()
        assert host.reachable and host.unreachable_since is None
        drift_evaluate()
        finding.refresh_from_db()
        assert finding.resolved_at is not None
        # One "unreachable" and one "reachable again" on the timeline, not one per retry.
        said = Event.objects.filter(source="docker", docker_host="remote")
        assert said.filter(message__contains="is unreachable").count() == 1
        assert said.filter(message__contains="reachable again").count() == 1
    finally:
        watcher_kill(proc)
        truth.close()
