"""The read-only mirror API, against a synced sandbox demo fleet."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from deployments.models import Task
from deployments.sync import account_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(sandbox: Any) -> AwsAccount:
    sandbox.client.seed("demo")
    clients_forget()
    account = AwsAccount.objects.create(
        name="demo", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    assert account_sync(account_id=account.pk) is not None
    return account


def _json(client: Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return json.loads(response.content)


def test_api_lists_the_mirror_with_filters_and_pagination(
    synced: AwsAccount, viewer_client: Client
) -> None:
    accounts = _json(viewer_client, "/api/v1/accounts")
    assert accounts["count"] == 1 and accounts["results"][0]["name"] == "demo"
    assert "endpoint_url" not in accounts["results"][0]
    assert set(accounts["results"][0]["health"]) == {"state", "reasons", "since", "updated_at"}

    clusters = _json(viewer_client, "/api/v1/clusters")["results"]
    assert {c["name"] for c in clusters} == {"prod-ec2", "onprem-edge"}
    cluster = next(c for c in clusters if c["name"] == "prod-ec2")
    assert _json(viewer_client, f"/api/v1/clusters/{cluster['id']}")["arn"] == cluster["arn"]
    # The cluster's health rolls up its services' (the demo's api rollout failed).
    assert cluster["health"]["state"] == "failing"
    assert "services-unhealthy" in {r["code"] for r in cluster["health"]["reasons"]}

    instances = _json(viewer_client, "/api/v1/instances?cluster=onprem-edge")["results"]
    assert instances and all(i["ec2_instance_id"].startswith("mi-") for i in instances)
    disconnected = [i for i in instances if not i["agent_connected"]]
    assert disconnected and all(
        "agent-disconnected" in {r["code"] for r in i["health"]["reasons"]} for i in disconnected
    )

    services = _json(viewer_client, f"/api/v1/services?cluster={cluster['id']}")["results"]
    api = next(s for s in services if s["name"] == "api")
    # One definition of health, stored by the sync; no second answer beside it.
    assert "is_steady" not in api
    health = api["health"]
    assert health["state"] == "failing" and health["since"] and health["updated_at"]
    [failed] = [r for r in health["reasons"] if r["code"] == "rollout-failed"]
    assert set(failed) == {"code", "state", "message", "since", "evidence"}
    assert failed["state"] == "failing" and failed["evidence"]["deployment_id"]
    detail = _json(viewer_client, f"/api/v1/services/{api['id']}")
    assert detail["health"] == health
    deployments = _json(viewer_client, f"/api/v1/deployments?service={api['arn']}")["results"]
    assert "FAILED" in {d["rollout_state"] for d in deployments}

    stopped = _json(viewer_client, "/api/v1/tasks?status=stopped&limit=2")
    assert stopped["count"] == Task.objects.filter(last_status="STOPPED").count() > 2
    assert len(stopped["results"]) == 2 and stopped["next"]
    assert all(t["last_status"] == "STOPPED" for t in stopped["results"])
    assert stopped["results"][0]["containers"]
    by_service = _json(viewer_client, f"/api/v1/tasks?service={api['id']}&status=RUNNING")
    assert all(t["service"] == api["arn"] for t in by_service["results"])

    events = _json(viewer_client, f"/api/v1/events?service={api['arn']}")
    assert events["count"] > 0
    assert all(e["service_arn"] == api["arn"] for e in events["results"])

    schema = _json(viewer_client, "/api/v1/schema")
    assert "/api/v1/tasks" in schema["paths"]
    service_schema = schema["components"]["schemas"]["Service"]["properties"]
    assert "health" in service_schema and "is_steady" not in service_schema


def test_api_needs_a_login_and_is_read_only(
    synced: AwsAccount, anon_client: Client, viewer_client: Client
) -> None:
    response = anon_client.get("/api/v1/tasks")
    assert response.status_code == 401 and "message" in json.loads(response.content)
    response = viewer_client.post("/api/v1/tasks", {})
    assert response.status_code in (403, 405)
