"""'What this deployment changed' on the service page, and the compare page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.console import fleet
from tests.deployments.revisions.history import History, history_create, page_text, row_changes

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> History:
    return history_create()


def _get(client: Client, url: str) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode(), len(ctx.captured_queries)


def _diff_rows(page: str) -> dict[str, tuple[str, list[str]]]:
    """{field: (state, [before, after])} of the compare table."""
    rows = re.findall(
        r'<tr class="diff-\w+" data-field="([^"]*)" data-state="(\w+)">(.*?)</tr>', page, re.S
    )
    return {
        html.unescape(f): (
            state,
            [page_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)[1:]],
        )
        for f, state, body in rows
    }


def _error(page: str) -> str:
    found = re.search(r'id="compare-error">(.*?)</p>', page, re.S)
    return page_text(found.group(1)) if found else ""


def test_each_deployment_row_says_what_it_changed(history: History, viewer_client: Client) -> None:
    page, queries = _get(viewer_client, f"/services/{history.service.pk}/")
    d1, d2, d3, d4 = (d.deployment_id for d in history.deployments)
    newest = row_changes(page, d4)
    assert "container web: image tag: 1 → 2" in newest
    assert "container web: memory (hard): 256 → 512" in newest
    assert "container web: environment LOG_LEVEL: info → debug" in newest
    assert "secret" not in newest  # unchanged
    assert f"from={d3}&amp;to={d4}" in page  # the link to the side-by-side
    assert "no task definition change (same api:2)" in row_changes(page, d3)
    # api:1 was mirrored before the details were kept: "not recorded", not "no change".
    second = row_changes(page, d2)
    assert "10 fields not recorded" in second
    assert "first mirrored" in row_changes(page, d1)

    # The same number of queries with many more deployments (no N+1).
    start = history.deployments[0].created_at_aws
    assert start is not None
    for n in range(20):
        fleet.deployment(
            history.service,
            status="INACTIVE",
            created=start - timedelta(minutes=n + 1),
            task_definition=history.tds[n % 2],
        )
    page, more_queries = _get(viewer_client, f"/services/{history.service.pk}/")
    assert more_queries == queries
    assert page.count('data-col="changes"') == 20


def test_compare_page_side_by_side(history: History, viewer_client: Client) -> None:
    url = f"/services/{history.service.pk}/compare"
    page, queries = _get(viewer_client, url)  # default: the newest deployment and the one before
    assert queries <= 12
    rows = _diff_rows(page)
    changed = {f: cells for f, (state, cells) in rows.items() if state == "changed"}
    assert changed == {
        "container web: image tag": ["1", "2"],
        "container web: memory (hard)": ["256", "512"],
        "container web: environment LOG_LEVEL": ["info", "debug"],
    }
    assert rows["container web: cpu"] == ("same", ["128", "128"])
    assert "3 changes" in page and "api:2" in page and "api:3" in page
    assert "<style" not in page and " style=" not in page  # strict CSP: styles in the CSS file

    page, _ = _get(viewer_client, f"{url}?from=api:1&to=api:3&only=changed")
    assert "2 changes, 10 fields not recorded" in page
    rows = _diff_rows(page)
    assert {state for state, _ in rows.values()} == {"changed", "unknown"}
    unknown = [f for f, (state, _) in rows.items() if state == "unknown"]
    assert "container web: environment" in unknown and "container web: secrets" in unknown
    assert rows["container web: environment"][1] == ["not recorded", "LOG_LEVEL=debug"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=nonsense&to=api:3", "from must be a deployment id"),
        ("?from=api:9&to=api:3", "from: no task definition api:9 is mirrored"),
        ("?from=api:1&to=ecs-svc/123", "to: ecs-svc/123 is not a deployment of this service"),
        ("?from=arn:aws:ecs%20x&to=api:3", "from must be a deployment id"),
        ("?to=api:3", "from is required"),
    ],
)
def test_compare_page_bad_input_is_an_inline_error(
    history: History, viewer_client: Client, query: str, message: str
) -> None:
    page, _ = _get(viewer_client, f"/services/{history.service.pk}/compare{query}")
    assert message in _error(page)
    assert 'id="comparison"' not in page


def test_compare_page_needs_a_login_and_a_role(history: History, client: Client) -> None:
    url = f"/services/{history.service.pk}/compare"
    assert client.get(url).status_code == 302
    assert client.get("/services/999999/compare").status_code in (302, 404)
