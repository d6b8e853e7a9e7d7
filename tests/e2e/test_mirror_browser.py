"""In a browser: sync an account with "Sync now" (a real Celery worker does the
sync), then open a cluster, a service and a stopped task."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from tests.conftest import browser_login
from tests.factories import PASSWORD
from tests.peers import celery_worker_process


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sync_an_account_then_browse_cluster_service_and_stopped_task(
    page: Any,
    live_server: Any,
    operator: Any,
    sandbox: Any,
    redis_url: str,
    artifacts_dir: Any,
    tmp_path: Any,
) -> None:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    with celery_worker_process({"REDIS_URL": redis_url}, log_path=tmp_path / "worker.log"):
        browser_login(page, live_server, operator.username, PASSWORD)
        page.goto(f"{live_server.url}/clusters/")
        assert "No clusters mirrored yet" in page.inner_text(f"#account-{account.pk}")
        page.click(f"#account-{account.pk} button:has-text('Sync now')")
        # htmx polls the SyncRun until the worker has finished it
        status = page.locator(f"#account-sync-{account.pk} .sync-run")
        status.wait_for()
        page.wait_for_selector(
            f"#account-sync-{account.pk} .sync-run[data-status=succeeded]", timeout=90_000
        )
        assert "calls" in status.inner_text()
        # the page reloaded itself when the run finished: the clusters are listed
        page.wait_for_selector(f"#account-{account.pk} a:has-text('prod-ec2')")
        page.screenshot(path=str(artifacts_dir / "mirror-clusters-synced.png"), full_page=True)

    page.goto(f"{live_server.url}/clusters/")
    page.click(f"#account-{account.pk} a:has-text('prod-ec2')")
    assert page.locator("h1").first.inner_text().startswith("prod-ec2")
    assert page.locator("nav.tabs").is_visible()
    page.click("#tab-body a:has-text('worker')")
    assert page.locator("h1").first.inner_text().startswith("worker")
    assert page.locator("#deployments progress").count() >= 1
    page.screenshot(path=str(artifacts_dir / "mirror-service.png"), full_page=True)

    page.select_option("#tasks select[name=status]", "stopped")
    page.click("#tasks button:has-text('Filter')")
    page.wait_for_url("**status=stopped**")
    page.click("#tasks tbody a.mono >> nth=0")
    assert page.locator("h1").first.inner_text().startswith("Task")
    stop = page.locator("#stop").inner_text()
    assert "Why it stopped" in stop
    assert page.locator("#containers").inner_text().count("137") >= 1
    page.screenshot(path=str(artifacts_dir / "mirror-stopped-task.png"), full_page=True)
