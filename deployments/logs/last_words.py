"""Last words: the final lines of a container that failed, kept in the database.

After each cluster sync that stopped a failed container, ``deployments.sync`` queues
``last_words_queue`` (a worker job, so the sync never waits for it); it finds containers
of tasks that stopped recently with a non-zero exit code or an OOM and that have no
``ContainerLastWords`` row yet, creates one ``pending`` row each (at most
``FLEETDECK_LAST_WORDS_PER_SYNC``, newest stops first; the rest wait for the next
sync) and queues one worker job per row. The worker (``last_words_keep``) makes the
one log call, outside any transaction, and records ``kept`` or ``unavailable``. The
row is unique per container and the worker acts only on a ``pending`` row, so a
container's last words are read once, whatever is delivered twice.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.core.jobs import job_enqueue
from deployments.logs.fetch import logs_fetch
from deployments.logs.sources import log_target
from deployments.models import ContainerLastWords, LastWordsState, TaskContainer
from deployments.selectors import failed_containers_without_last_words

KEEP_TASK = "deployments.logs.tasks.keep_last_words"


def last_words_queue(*, cluster_id: int) -> int:
    """Create the pending rows for newly failed containers and queue their reads
    (at most ``FLEETDECK_LAST_WORDS_PER_SYNC``). Returns how many were queued."""
    cap = settings.FLEETDECK_LAST_WORDS_PER_SYNC
    if cap <= 0:
        return 0
    queued = 0
    for container_id in list(
        failed_containers_without_last_words(cluster_id).values_list("pk", flat=True)[:cap]
    ):
        try:
            with transaction.atomic():
                row = ContainerLastWords.objects.create(container_id=container_id)
                job_enqueue(KEEP_TASK, row.pk)
        except IntegrityError:
            continue  # another sync of the same cluster got there first
        queued += 1
    return queued


def _bounded(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, str]:
    """The newest lines that fit both bounds, oldest first, and their size."""
    budget = settings.FLEETDECK_LAST_WORDS_BYTES
    kept: list[dict[str, Any]] = []
    size = 0
    for line in reversed(lines[-settings.FLEETDECK_LAST_WORDS_LINES :]):
        cost = len(json.dumps(line).encode())
        if size + cost > budget:
            break
        kept.append(line)
        size += cost
    note = "" if len(kept) == len(lines) else f"the last {len(kept)} lines ({size} bytes) kept"
    return kept[::-1], size, note


def last_words_keep(*, row_id: int) -> str | None:
    """Worker: read a pending row's container logs once; its final state."""
    row = ContainerLastWords.objects.filter(pk=row_id, state=LastWordsState.PENDING).first()
    if row is None:
        return None  # done already (a redelivery), or pruned with its task
    container = TaskContainer.objects.select_related(
        "task__cluster__account", "task__task_definition"
    ).get(pk=row.container_id)
    task = container.task
    target = log_target(task, container.name, container.runtime_id)
    limit = settings.FLEETDECK_LAST_WORDS_LINES
    result = logs_fetch(task=task, target=target, mode="tail", arg="", limit=limit)
    lines, size, note = _bounded(result["lines"])
    state = LastWordsState.KEPT if lines else LastWordsState.UNAVAILABLE
    if not lines:
        note = result["error"] or "the container wrote nothing"
    ContainerLastWords.objects.filter(pk=row.pk, state=LastWordsState.PENDING).update(
        state=state,
        source=target.kind,
        lines=lines,
        bytes=size,
        note=note[:1000],
        fetched_at=timezone.now(),
    )
    return str(state)
