"""Container logs beside every task (issue 15): where a container's logs are
(``sources``), reading them in a worker into a short-lived cache that pages poll
(``reads``, ``fetch``), and the last lines of failed containers kept in the database
(``last_words``). No AWS or Docker call is made in a web request: a page or API
call that finds nothing cached queues a fetch and polls for its result."""

from __future__ import annotations

from deployments.logs.last_words import last_words_queue
from deployments.logs.reads import LogsView, logs_may_read, logs_read
from deployments.logs.selectors import task_logs_panels

__all__ = ["LogsView", "last_words_queue", "logs_may_read", "logs_read", "task_logs_panels"]
