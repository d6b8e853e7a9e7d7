"""Reading logs without an AWS or Docker call in the web request.

A page or API call asks ``logs_read``: the answer comes from the cache (Django's
cache: Redis in production, the database cache in the embedded mode), filled by a
worker (``logs_fetch_store``, queued by task name through the outbox). When nothing
is cached yet, or a live tail's page is older than ``TAIL_FRESH``, one fetch is queued
(``cache.add`` keeps many pollers to one queued fetch) and the caller shows what it
has, or "loading", and polls again. A stopped task's pages do not change, so they
are fetched once per ``PAGE_TTL``. Kept last words need no fetch at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from clusters.core.jobs import job_enqueue
from clusters.core.roles import has_role
from deployments.logs.fetch import logs_fetch
from deployments.logs.sources import LogTarget, log_target
from deployments.models import ContainerLastWords, LastWordsState, Task, TaskContainer

FETCH_TASK = "deployments.logs.tasks.fetch_logs"
TAIL_FRESH = 2  # seconds a live tail's newest page is served before a refetch is queued
PAGE_TTL = 300  # seconds a fetched page stays in the cache
QUEUED_TTL = 20  # a queued fetch that never answered is queued again after this
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def logs_may_read(user: Any) -> bool:
    return has_role(user, settings.FLEETDECK_LOGS_MIN_ROLE)


@dataclass
class LogsView:
    """What a page or the API shows for one container."""

    container: TaskContainer
    target: LogTarget
    mode: str = "tail"
    arg: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    older: str | None = None
    source: str = ""  # cloudwatch, docker or kept
    error: str = ""
    loading: bool = False  # a fetch is queued and nothing is cached yet
    fetched_at: datetime | None = None
    kept: ContainerLastWords | None = None

    @property
    def live(self) -> bool:
        return self.mode == "tail" and bool(self.target.kind) and not self.container.task.is_final


def _key(task_id: int, name: str, mode: str, arg: str, limit: int) -> str:
    digest = hashlib.blake2b(f"{name}\0{mode}\0{arg}".encode(), digest_size=12).hexdigest()
    return f"logs:{task_id}:{digest}:{limit}"


def _kept(container: TaskContainer) -> ContainerLastWords | None:
    return ContainerLastWords.objects.filter(container=container, state=LastWordsState.KEPT).first()


def logs_read(
    *, container: TaskContainer, mode: str = "tail", arg: str = "", limit: int = DEFAULT_LIMIT
) -> LogsView:
    """The cached page of ``container``'s logs (queueing a fetch when it is missing or
    a live tail's page is stale), or its kept last words while nothing is cached."""
    task = container.task
    view = LogsView(
        container=container,
        target=log_target(task, container.name, container.runtime_id),
        mode=mode,
        arg=arg,
    )
    view.kept = _kept(container)
    if not view.target.kind:
        _from_kept(view)
        view.error = "" if view.kept else view.target.why
        return view
    key = _key(task.pk, container.name, mode, arg, limit)
    data = cache.get(key)
    stale = cache.get(key + ":fresh") is None
    if (data is None or (stale and view.live)) and cache.add(key + ":queued", 1, QUEUED_TTL):
        job_enqueue(FETCH_TASK, task.pk, container.name, mode, arg, limit)
    if data is None:
        view.loading = True
        if mode == "tail":
            _from_kept(view)
        return view
    view.lines, view.older, view.error = data["lines"], data["older"], data["error"]
    view.source = data["source"]
    view.fetched_at = datetime.fromisoformat(data["fetched_at"])
    if not view.lines and view.kept and mode == "tail":
        _from_kept(view)  # the stream expired or the host is gone: what was kept
    return view


def _from_kept(view: LogsView) -> None:
    if view.kept is not None:
        view.lines, view.source, view.fetched_at = view.kept.lines, "kept", view.kept.fetched_at


def logs_fetch_store(*, task_id: int, name: str, mode: str, arg: str, limit: int) -> bool:
    """Worker: fetch one page and cache it (False: no such task or container)."""
    task = (
        Task.objects.select_related("cluster__account", "task_definition")
        .filter(pk=task_id)
        .first()
    )
    container = TaskContainer.objects.filter(task_id=task_id, name=name).first()
    if task is None or container is None:
        return False
    target = log_target(task, name, container.runtime_id)
    data = logs_fetch(task=task, target=target, mode=mode, arg=arg, limit=limit)
    data["fetched_at"] = timezone.now().astimezone(UTC).isoformat()
    key = _key(task_id, name, mode, arg, limit)
    fresh = TAIL_FRESH if mode == "tail" and not task.is_final else PAGE_TTL
    cache.set(key, data, PAGE_TTL)
    cache.set(key + ":fresh", 1, fresh)
    cache.delete(key + ":queued")
    return True
