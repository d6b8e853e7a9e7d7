"""Celery tasks for Docker hosts (thin: ids in, one service call).

Named by their module path; console/celery.py schedules the fan-out.
"""

from __future__ import annotations

from celery import shared_task

from clusters.core.jobs import job_enqueue
from clusters.docker_hosts import container_action_run, docker_host_sync
from clusters.models import DockerHost


@shared_task(name="clusters.docker_hosts.tasks.sync_all_docker_hosts", ignore_result=True)
def sync_all_docker_hosts() -> int:
    """Fan out one sync task per enabled host, so one slow or broken host never
    holds up the others."""
    ids = list(DockerHost.objects.filter(enabled=True).values_list("pk", flat=True))
    for host_id in ids:
        job_enqueue("clusters.docker_hosts.tasks.sync_docker_host", host_id)
    return len(ids)


@shared_task(name="clusters.docker_hosts.tasks.sync_docker_host", ignore_result=True)
def sync_docker_host(host_id: int) -> bool:
    """Idempotent; a missing host or a held lock returns quietly. An unreachable
    host is recorded by the service (not retried: the next schedule is the retry)."""
    result = docker_host_sync(host_id=host_id)
    if result is not None:
        # The host's health (reachability, restarting containers) is judged by the
        # health model, which lives above this package: queued by name.
        job_enqueue("deployments.health.tasks.health_refresh_host", host_id)
    return bool(result and result.ok)


@shared_task(name="clusters.docker_hosts.tasks.container_action", ignore_result=True)
def container_action(action_id: int) -> None:
    """Run one queued restart/stop. Claimed by compare-and-set, so a redelivered
    message does nothing; not retried (restarting twice is not harmless): a failed
    call is recorded FAILED and the operator decides."""
    container_action_run(action_pk=action_id)
