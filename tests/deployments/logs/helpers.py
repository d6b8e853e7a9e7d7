"""What the worker does with queued log jobs, run in the test's process (the task
functions called directly, as tests/clusters/docker_hosts/test_views.py does)."""

from __future__ import annotations

from typing import Any

from clusters.models import QueuedJob
from deployments.logs.tasks import fetch_logs, keep_last_words, queue_last_words

TASKS: dict[str, Any] = {
    "deployments.logs.tasks.fetch_logs": fetch_logs,
    "deployments.logs.tasks.keep_last_words": keep_last_words,
    "deployments.logs.tasks.queue_last_words": queue_last_words,
}


def run_log_jobs() -> int:
    """Run every queued log job, and the jobs they queue, once each; how many ran."""
    ran = 0
    while job := QueuedJob.objects.filter(task_name__in=TASKS).order_by("pk").first():
        TASKS[job.task_name](*job.args)
        job.delete()  # run: a worker would not see it again
        ran += 1
    return ran
