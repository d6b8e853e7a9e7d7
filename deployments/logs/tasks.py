"""Celery tasks for container logs: thin wrappers over ``reads`` and ``last_words``."""

from __future__ import annotations

from celery import shared_task

from deployments.logs.last_words import last_words_keep, last_words_queue
from deployments.logs.reads import logs_fetch_store


@shared_task(name="deployments.logs.tasks.fetch_logs", ignore_result=True)
def fetch_logs(task_id: int, name: str, mode: str, arg: str, limit: int) -> bool:
    return logs_fetch_store(task_id=task_id, name=name, mode=mode, arg=arg, limit=limit)


@shared_task(name="deployments.logs.tasks.queue_last_words", ignore_result=True)
def queue_last_words(cluster_id: int) -> int:
    """Queued after a cluster sync that saw containers fail (deployments.sync)."""
    return last_words_queue(cluster_id=cluster_id)


@shared_task(name="deployments.logs.tasks.keep_last_words", ignore_result=True)
def keep_last_words(row_id: int) -> str | None:
    return last_words_keep(row_id=row_id)
