"""Celery: sample every service once a minute (console/celery.py schedules it)."""

from __future__ import annotations

from celery import shared_task

from deployments.samples.sampling import samples_prune, services_sample


@shared_task(name="deployments.samples.tasks.sample_services", ignore_result=True)
def sample_services() -> int:
    written = services_sample()
    samples_prune()
    return written
