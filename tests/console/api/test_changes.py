"""``changes`` on /api/v1/deployments and /api/v1/services/<id>/compare."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.console import fleet
from tests.deployments.revisions.history import History, history_create

pytestmark = pytest.mark.django_db

NEWEST = [
    {"field": "container web: image tag", "before": "1", "after": "2"},
    {"field": "container web: memory (hard)", "before": "256", "after": "512"},
    {"field": "container web: environment LOG_LEVEL", "before": "info", "after": "debug"},
]


@pytest.fixture
def history() -> History:
    return history_create()


def _json(client: Client, url: str, status: int = 200) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == status, (url, response.content[:300])
    return json.loads(response.content), len(ctx.captured_queries)


def test_each_deployment_has_its_changes_against_the_one_before(
    history: History, viewer_client: Client
) -> None:
    url = f"/api/v1/deployments?service={history.service.pk}"
    body, queries = _json(viewer_client, url)
    by_id = {d["deployment_id"]: d for d in body["results"]}
    d1, d2, d3, d4 = (by_id[d.deployment_id] for d in history.deployments)
    assert d4["changes"] == NEWEST and d4["changes_against"] == d3["deployment_id"]
    assert d3["changes"] == [] and d3["changes_against"] == d2["deployment_id"]
    assert d1["changes"] is None and d1["changes_against"] is None
    not_recorded = {c["field"] for c in d2["changes"] if c["before"] == "not recorded"}
    assert {"container web: environment", "container web: secrets"} <= not_recorded
    secrets = next(c for c in d2["changes"] if c["field"] == "container web: secrets")
    assert secrets["after"] == "DB_PASSWORD (valueFrom)=arn:aws:ssm:us-east-1:1:parameter/db"

    detail, _ = _json(viewer_client, f"/api/v1/deployments/{history.deployments[3].pk}")
    assert detail["changes"] == NEWEST

    # A bigger page costs the same number of queries (the previous ones in one).
    start = history.deployments[0].created_at_aws
    assert start is not None
    for n in range(30):
        fleet.deployment(
            history.service,
            status="INACTIVE",
            created=start - timedelta(minutes=n + 1),
            task_definition=history.tds[n % 3],
        )
    body, more = _json(viewer_client, url)
    assert body["count"] == 34 and more == queries


def test_compare_endpoint(history: History, viewer_client: Client) -> None:
    url = f"/api/v1/services/{history.service.pk}/compare"
    body, _ = _json(viewer_client, url)
    assert body["from"]["deployment_id"] == history.deployments[2].deployment_id
    assert body["to"]["deployment_id"] == history.deployments[3].deployment_id
    assert body["changes"] == NEWEST
    assert {
        "field": "task: network mode",
        "before": "bridge",
        "after": "bridge",
        "state": "same",
    } in body["lines"]

    body, _ = _json(viewer_client, f"{url}?from=api:3&to={history.tds[1].arn}")
    assert body["to"] == {
        "ref": history.tds[1].arn,
        "task_definition": history.tds[1].arn,
        "deployment_id": None,
    }
    assert [c["field"] for c in body["changes"]] == [c["field"] for c in NEWEST]
    assert body["changes"][0] == {"field": "container web: image tag", "before": "2", "after": "1"}


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("?from=nonsense", "from"),
        ("?from=api:1&to=api:99", "to"),
        ("?from=ecs-svc/0&to=api:2", "from"),
        ("?to=api:2", "from"),
        ("?from=" + "a" * 3000, "from"),
    ],
)
def test_compare_bad_parameters_are_400_json(
    history: History, viewer_client: Client, query: str, param: str
) -> None:
    body, _ = _json(viewer_client, f"/api/v1/services/{history.service.pk}/compare{query}", 400)
    assert set(body) == {"message", "errors"} and list(body["errors"]) == [param]
    assert body["message"].startswith(param)


def test_compare_unknown_service_and_anonymous(
    history: History, viewer_client: Client, client: Client
) -> None:
    body, _ = _json(viewer_client, "/api/v1/services/999999/compare", 404)
    assert "message" in body
    response = client.get(f"/api/v1/services/{history.service.pk}/compare")
    assert response.status_code == 401
