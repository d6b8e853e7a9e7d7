"""The one way Fleetdeck queues background work: a transactional outbox.

Services and views name a task by its dotted path (``"deployments.tasks.sync_cluster"``)
instead of importing it, so no service imports a tasks module. ``job_enqueue`` writes a
``QueuedJob`` row in the caller's transaction; once that commits, the row is claimed by
compare-and-set and handed to the broker. When the broker refuses (Redis down), the claim
is released and the row stays pending; the change that asked for the work is kept, and
the sweep (``clusters.core.tasks.jobs_resend``, every 15 s and when a worker starts) sends
it once the broker is back. The claim means two senders never publish the same row at
once; a sender that died after claiming leaves a stale claim that the sweep takes over,
so delivery is at least once, and every task is idempotent, so after an outage each
action takes effect exactly once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, NoReturn

from celery import Task, current_app
from celery.exceptions import Ignore, Reject
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from clusters.models import QueuedJob

logger = logging.getLogger(__name__)

JobArg = int | str | None
SendOutcome = Literal["sent", "taken", "refused", "error"]

# What every page says when its action could not be handed to the broker yet.
QUEUED_WHILE_PAUSED = "queued; it will run when background work resumes."
# A pending row younger than this may still be on its way (its commit hook is sending).
RESEND_AFTER = timedelta(seconds=5)
# Pages show the "queued" banner once a job has waited this long.
WAITING_AFTER = timedelta(seconds=10)
# A claim this old belongs to a sender that died between claiming and recording.
CLAIM_STALE = timedelta(seconds=60)
# Sent rows are kept a day for diagnosis, then pruned.
KEEP_SENT = timedelta(days=1)
RESEND_BATCH = 500


def job_enqueue(task_name: str, *args: JobArg, countdown: float | None = None) -> QueuedJob:
    """Record ``task_name(*args)`` in the current transaction; send it after commit."""
    job = QueuedJob.objects.create(task_name=task_name, args=list(args), countdown=countdown)
    # robust: whatever goes wrong while sending, the caller's change is already kept.
    transaction.on_commit(partial(job_send, job.pk), robust=True)
    return job


def job_send(job_id: int) -> SendOutcome:
    """Claim a pending job and hand it to the broker; release the claim if refused."""
    claimed = _job_claim(job_id)
    if claimed is None:
        return "taken"  # sent already, being sent by another sender, or pruned
    job, claimed_at = claimed
    # Every later write is conditional on our own claim: a sender that stalled past
    # CLAIM_STALE must not release or overwrite the claim of the sweep that took over.
    ours = QueuedJob.objects.filter(pk=job_id, claimed_at=claimed_at)
    try:
        _publish(job)
    except _broker_errors() as exc:
        # Only the type: the message of a connection error can carry the broker URL.
        error = type(exc).__name__
        ours.update(claimed_at=None, last_error=error[:300])
        logger.warning("broker refused %s (job %s: %s); the sweep resends it", job, job_id, error)
        return "refused"
    except Exception as exc:
        # Not an outage (a bug, a bad argument): kept for the next sweep like a refusal,
        # but the sweep goes on to the jobs behind it instead of stopping.
        ours.update(claimed_at=None, last_error=f"error: {type(exc).__name__}"[:300])
        logger.exception("job %s (%s) could not be sent; kept for the next sweep", job_id, job)
        return "error"
    ours.update(sent_at=timezone.now())
    return "sent"


def _job_claim(job_id: int) -> tuple[QueuedJob, datetime] | None:
    """Compare-and-set: only one sender wins an unsent row whose claim is free or stale."""
    now = timezone.now()
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_STALE)
    won = QueuedJob.objects.filter(free, pk=job_id, sent_at__isnull=True).update(
        claimed_at=now, attempts=F("attempts") + 1
    )
    job = QueuedJob.objects.filter(pk=job_id).first() if won else None
    return (job, now) if job is not None else None


def _broker_errors() -> tuple[type[BaseException], ...]:
    """What "the broker is unreachable" looks like for the configured transport
    (kombu wraps most of it; the Redis client's own errors can leak through). Kombu's
    Redis transport also lists KeyError, which here would hide an unknown task."""
    connection = current_app.connection_for_write()  # lazy: nothing is opened here
    transport = [e for e in connection.connection_errors if not issubclass(e, LookupError)]
    return (KombuOperationalError, OSError, TimeoutError, *transport)


def _publish(job: QueuedJob) -> None:
    args = tuple(job.args)
    if current_app.conf.task_always_eager:
        # Eager mode (unit tests, FLEETDECK_CELERY_EAGER) runs the task here and now.
        if job.task_name not in current_app.tasks:
            current_app.loader.import_default_modules()  # the autodiscover list
        current_app.tasks[job.task_name].apply(args=args)
        return
    countdown = None
    if job.countdown is not None:  # a resent job keeps its original due time
        waited = (timezone.now() - job.created_at).total_seconds()
        countdown = max(0.0, job.countdown - waited)
    # ignore_result: nothing reads a job's result, and subscribing to one would make a
    # Redis outage look like a result-store failure after ~20 s of reconnecting.
    current_app.send_task(job.task_name, args=args, countdown=countdown, ignore_result=True)


def jobs_pending_send(*, now: datetime | None = None) -> int:
    """Send pending jobs older than ``RESEND_AFTER``, oldest first; stop at the first
    refusal (the broker is still down: the next sweep tries again). Returns how many
    were sent."""
    cutoff = (now or timezone.now()) - RESEND_AFTER
    pending = QueuedJob.objects.filter(sent_at__isnull=True, created_at__lt=cutoff)
    sent = 0
    for job_id in list(pending.order_by("id").values_list("pk", flat=True)[:RESEND_BATCH]):
        outcome = job_send(job_id)
        if outcome == "refused":
            break
        sent += outcome == "sent"
    return sent


def jobs_prune(*, now: datetime | None = None) -> int:
    """Forget jobs sent more than a day ago. Returns rows deleted."""
    cutoff = (now or timezone.now()) - KEEP_SENT
    deleted, _ = QueuedJob.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def jobs_waiting(*, now: datetime | None = None) -> int:
    """How many jobs have waited for the broker longer than ``WAITING_AFTER``."""
    cutoff = (now or timezone.now()) - WAITING_AFTER
    return QueuedJob.objects.filter(sent_at__isnull=True, created_at__lt=cutoff).count()


def job_refused(task_name: str, *args: JobArg) -> bool:
    """Whether the broker refused ``task_name(*args)``: it is kept, unsent, for the
    sweep. (A job not tried yet, its transaction still open, is not refused.)"""
    return QueuedJob.objects.filter(
        task_name=task_name,
        args=list(args),
        sent_at__isnull=True,
        claimed_at__isnull=True,
        attempts__gt=0,
    ).exists()


def task_retry(
    task: Task,
    *,
    countdown: float,
    exc: Exception | None = None,
    args: tuple[JobArg, ...] | None = None,
) -> NoReturn:
    """``raise self.retry(...)`` for a bound task, without losing the retry to an outage.

    Celery turns a retry the broker refuses into ``Reject(requeue=False)``: the message
    is dropped and the row it was working on stays stuck. Here the retry is kept in the
    outbox instead, and the sweep sends it once the broker is back (as a fresh message:
    the retry count starts again after an outage)."""
    try:
        raise task.retry(exc=exc, countdown=countdown, args=args)
    except Reject:
        again = args if args is not None else tuple(task.request.args or ())
        job_enqueue(task.name, *again, countdown=countdown)
        logger.warning("broker refused the retry of %s; kept for the sweep", task.name)
        raise Ignore() from None
