"""Browser: a container killed from outside shows as exited on the host page
without a reload (the containers table polls; the watcher refreshes the row)."""

from __future__ import annotations

import pytest

from clusters.docker_hosts import docker_host_create, docker_host_sync
from tests.clusters.docker_helpers import DOCKER_URL, watcher_kill, watcher_start
from tests.conftest import browser_login
from tests.factories import PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_killed_container_shows_exited_without_reload(
    page, live_server, viewer, engine, artifacts_dir
):
    host = docker_host_create(name="local", endpoint=DOCKER_URL)
    victim = engine.run("victim")
    docker_host_sync(host_id=host.pk)
    proc = watcher_start(artifacts_dir / "watcher-e2e.log")
    try:
        browser_login(page, live_server, viewer.username, PASSWORD)
        page.goto(f"{live_server.url}/docker-hosts/local/")
        row = page.locator(f"#container-{victim.id[:12]}")
        assert row.get_attribute("data-state") == "running"
        page.evaluate("window.__marker = 'no-reload'")
        victim.kill()
        page.wait_for_selector(f"#container-{victim.id[:12]}[data-state=exited]", timeout=20_000)
        assert page.evaluate("window.__marker") == "no-reload"
        assert "137" in page.locator(f"#container-{victim.id[:12]}").inner_text()
        page.screenshot(path=str(artifacts_dir / "docker-host-page.png"), full_page=True)
    finally:
        watcher_kill(proc)
