"""What the task page's Logs panel needs, read from the mirror (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deployments.logs.sources import LogTarget, log_target
from deployments.models import ContainerLastWords, Task, TaskContainer


@dataclass(frozen=True)
class ContainerLogsPanel:
    container: TaskContainer
    target: LogTarget
    last_words: ContainerLastWords | None

    @property
    def last_lines(self) -> list[ShownLine]:
        return lines_for_display(self.last_words.lines if self.last_words else [])


def task_logs_panels(task: Task, containers: list[TaskContainer]) -> list[ContainerLogsPanel]:
    """One panel per container: where its logs are and its kept last words (two
    queries whatever the number of containers, plus one per container on a Docker
    host lookup when it does not log through awslogs)."""
    kept = {
        w.container_id: w
        for w in ContainerLastWords.objects.filter(container__task=task).exclude(state="pending")
    }
    return [
        ContainerLogsPanel(
            container=c, target=log_target(task, c.name, c.runtime_id), last_words=kept.get(c.pk)
        )
        for c in containers
    ]


@dataclass(frozen=True)
class ShownLine:
    at: datetime | None
    stream: str
    message: str


def lines_for_display(lines: list[dict[str, Any]]) -> list[ShownLine]:
    return [
        ShownLine(
            at=datetime.fromisoformat(x["at"]) if x.get("at") else None,
            stream=str(x.get("stream") or ""),
            message=str(x.get("message") or ""),
        )
        for x in lines
    ]
