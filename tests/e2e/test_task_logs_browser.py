"""In a browser, with a real Celery worker: a task OOM-killed after writing to its
awslogs stream; the sync keeps its last words (the worker reads them), and the task
page shows them, then the newest lines the worker fetched from CloudWatch."""

from __future__ import annotations

from typing import Any

import pytest

from deployments.models import ContainerLastWords, Task
from tests.conftest import browser_login
from tests.deployments.logs.test_cloudwatch import OOM, _fleet, _sync
from tests.factories import PASSWORD
from tests.peers import celery_worker_process, wait_until


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_stopped_task_shows_its_last_words_and_its_stream(
    page: Any,
    live_server: Any,
    viewer: Any,
    sandbox: Any,
    redis_url: str,
    artifacts_dir: Any,
    tmp_path: Any,
) -> None:
    account, [arn] = _fleet(sandbox)
    _sync(account)
    sandbox.client.stop_task(arn, exit_code=137, reason=OOM)
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=tmp_path / "worker.log"):
        _sync(account)  # queues the read of the last words; the worker keeps them
        assert wait_until(
            lambda: ContainerLastWords.objects.filter(state="kept").exists(), timeout=60
        ), (tmp_path / "worker.log").read_text()[-3000:]
        task = Task.objects.get(arn=arn)
        browser_login(page, live_server, viewer.username, PASSWORD)
        page.goto(f"{live_server.url}/tasks/{task.pk}/")
        words = page.locator("#stop .logs-last-words")  # under "Why it stopped"
        assert "WARNING: memory use at 97% of the container limit" in words.inner_text()
        # The panel's fragment: kept lines first, then the worker's CloudWatch read.
        page.wait_for_selector(
            "#logs-body-1 .logs-meta:has-text('From cloudwatch')", timeout=30_000
        )
        body = page.locator("#logs-body-1").inner_text()
        assert "app starting (acme/web:1)" in body and "[stdout]" not in body
        page.locator("#logs").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "task-logs-stopped.png"), full_page=True)

        page.fill("#logs-1 input[name=q]", "memory")
        page.click("#logs-1 button:has-text('Search')")

        def searched() -> bool:
            text = page.locator("#logs-body-1").inner_text()
            return "memory use at 97%" in text and "heartbeat" not in text

        wait_until(searched, timeout=30)
        page.screenshot(path=str(artifacts_dir / "task-logs-search.png"), full_page=True)
