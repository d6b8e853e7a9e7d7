"""The scheduled Docker sync runs in a real Celery worker process."""

from __future__ import annotations

import pytest
from celery import Celery

from clusters.docker_hosts import docker_host_create
from clusters.docker_hosts.tasks import sync_all_docker_hosts
from clusters.models import Container, DockerHost
from tests.clusters.docker_helpers import DOCKER_URL
from tests.peers import celery_worker_process, wait_until


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_all_docker_hosts_in_a_real_worker(engine, tcp_proxy, redis_url, tmp_path):
    good = docker_host_create(name="local", endpoint=DOCKER_URL)
    bad = docker_host_create(name="flaky", endpoint=tcp_proxy.url)
    tcp_proxy.pause()  # one broken host must not stop the other
    c = engine.run("worker")
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=tmp_path / "worker.log"):
        client = Celery("test-client", broker=redis_url, backend=redis_url)
        # The name beat schedules (console/celery.py), sent like beat sends it.
        client.send_task(sync_all_docker_hosts.name)
        wait_until(
            lambda: Container.objects.filter(host=good, container_id=c.id).exists(), timeout=30
        )
        wait_until(
            lambda: DockerHost.objects.filter(pk=bad.pk, reachable=False).exists(), timeout=30
        )
    assert "unreachable" not in (DockerHost.objects.get(pk=good.pk).last_error or "")
