"""The timeline in a real browser: filter by service and severity, load older,
live events slide in, a burst expands, and the filtered view exports as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from clusters.core.timeline import NewEvent, event_record, events_record
from tests.conftest import browser_login
from tests.factories import PASSWORD

WEB = "arn:aws:ecs:us-east-1:123456789012:service/prod/web"
API = "arn:aws:ecs:us-east-1:123456789012:service/prod/api"


def _seed() -> None:
    now = timezone.now()
    events = []
    for i in range(70):  # more than a page of web errors
        events.append(
            NewEvent(
                source="ecs-service-event",
                severity="error",
                message=f"web error number {i:02d}",
                dedupe_key=f"web-err-{i}",
                occurred_at=now - timedelta(minutes=10 + i * 2),
                service_arn=WEB,
            )
        )
    events.append(
        NewEvent(
            source="ecs-service-event",
            message="web reached a steady state",
            dedupe_key="web-steady",
            occurred_at=now - timedelta(minutes=5),
            service_arn=WEB,
        )
    )
    events.append(
        NewEvent(
            source="deployment",
            severity="error",
            message="api deployment failed",
            dedupe_key="api-failed",
            occurred_at=now - timedelta(minutes=4),
            service_arn=API,
        )
    )
    for i in range(6):  # a burst: one expandable row
        events.append(
            NewEvent(
                source="task",
                severity="warning",
                message=f"Task {i:032x} stopped",
                dedupe_key=f"burst-{i}",
                occurred_at=now - timedelta(minutes=3, seconds=i),
                service_arn=API,
            )
        )
    events_record(events)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_filter_page_live_expand_and_export_csv(page, live_server, viewer, artifacts_dir) -> None:
    _seed()
    browser_login(page, live_server, viewer.username, PASSWORD)
    page.goto(f"{live_server.url}/timeline/")
    feed = page.locator("ol.timeline").first
    assert "api deployment failed" in feed.inner_text()

    # A burst of six similar stops is one row that expands.
    burst = page.locator("li.event-group").first
    assert "6\N{MULTIPLICATION SIGN}" in burst.inner_text()
    assert not burst.locator("li.event").first.is_visible()
    burst.locator("summary").click()
    assert burst.locator("li.event").first.is_visible()

    # Filter by service and severity: the URL carries the filters.
    page.fill("#id_service", "web")
    page.select_option("#id_severity", "error")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/timeline/?*service=web*")
    assert "severity=error" in page.url
    text = page.locator("ol.timeline").first.inner_text()
    assert "web error number 00" in text
    assert "steady state" not in text and "api deployment failed" not in text
    assert page.locator("li.event").count() == 50

    # "Older" loads the rest in place (no navigation).
    url_before = page.url
    page.click("a:has-text('Older')")
    page.wait_for_selector("text=web error number 69")
    assert page.url == url_before
    assert page.locator("li.event").count() == 70
    assert page.locator("text=No older events").is_visible()

    # Live: a new matching event slides in at the top within one poll.
    event_record(
        source="ecs-service-event",
        severity="error",
        message="web fresh error",
        dedupe_key="web-fresh",
        service_arn=WEB,
    )
    event_record(source="sync", message="unrelated sync", dedupe_key="sync-fresh")
    page.wait_for_selector("li.event-new:has-text('web fresh error')", timeout=12_000)
    assert "web fresh error" in page.locator("li.event").first.inner_text()
    assert page.locator("text=unrelated sync").count() == 0
    page.wait_for_timeout(5_500)  # one more poll: nothing arrives twice
    assert page.locator("li.event").count() == 71
    assert page.locator("li.event:has-text('web error number 69')").count() == 1
    page.screenshot(path=str(artifacts_dir / "timeline-filtered.png"), full_page=True)

    # Export the filtered view as CSV.
    with page.expect_download() as download_info:
        page.click("a:has-text('CSV')")
    download = download_info.value
    assert download.suggested_filename.startswith("fleetdeck-timeline-")
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 71
    assert {r["service_arn"] for r in rows} == {WEB}
    assert {r["severity"] for r in rows} == {"error"}
    assert rows[0]["message"] == "web fresh error"
