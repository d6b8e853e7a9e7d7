"""The one way Fleetdeck queues background work.

Services and views name a task by its dotted path (``"clusters.mirror.tasks.sync_cluster"``)
instead of importing it, so no service imports a tasks module, and the message is sent
only once the current transaction commits (a worker never sees a row that is not there).
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

JobArg = int | str | None


def job_enqueue(task_name: str, *args: JobArg, countdown: float | None = None) -> None:
    """Send ``task_name(*args)`` to the workers after the current transaction commits."""

    def send() -> None:
        try:
            current_app.send_task(task_name, args=args, countdown=countdown)
        except Exception:  # the broker is down; see the outage policy in docs/architecture.md
            logger.exception("could not queue %s", task_name)

    transaction.on_commit(send)
