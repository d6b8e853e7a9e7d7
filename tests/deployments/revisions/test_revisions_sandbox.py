"""Against the sandbox: two task definitions registered through boto3 that differ in
image tag, environment and memory; the service updated from one to the other and
synced. The deployment row and the API show exactly those changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from deployments.models import Deployment, TaskDefinition
from deployments.sync import account_sync
from tests.deployments.redeploy_fleet import fleet_create
from tests.deployments.revisions.history import row_changes

pytestmark = pytest.mark.django_db

EXPECTED = [
    {"field": "container app: image tag", "before": "1", "after": "2"},
    {"field": "container app: memory (hard)", "before": "256", "after": "512"},
    {"field": "container app: environment LOG_LEVEL", "before": "info", "after": "debug"},
]


def _register(ecs: Any, image: str, memory: int, log_level: str) -> str:
    return str(
        ecs.register_task_definition(
            family="app",
            requiresCompatibilities=["EXTERNAL"],
            networkMode="bridge",
            containerDefinitions=[
                {
                    "name": "app",
                    "image": image,
                    "cpu": 128,
                    "memory": memory,
                    "essential": True,
                    "environment": [{"name": "LOG_LEVEL", "value": log_level}],
                    "secrets": [
                        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}
                    ],
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def _deploy(sandbox: Any, ecs: Any, account_pk: int, td: str) -> None:
    ecs.update_service(cluster="edge", service="web", taskDefinition=td)
    sandbox.client.tick(3)
    run = account_sync(account_id=account_pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None


def test_a_deployment_shows_what_it_changed(sandbox: Any, viewer_client: Client) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    before = _register(fleet.ecs, "example/app:1", 256, "info")
    after = _register(fleet.ecs, "example/app:2", 512, "debug")
    _deploy(sandbox, fleet.ecs, fleet.account.pk, before)
    _deploy(sandbox, fleet.ecs, fleet.account.pk, after)

    service = fleet.services["web"]
    newest = Deployment.objects.filter(service=service).select_related("task_definition").first()
    assert newest is not None and newest.task_definition is not None
    assert newest.task_definition.arn == after
    # The mirror kept secrets by name and valueFrom only.
    mirrored = TaskDefinition.objects.get(arn=after).containers[0]
    assert mirrored["secrets"] == [
        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/db"}
    ]

    body = json.loads(viewer_client.get(f"/api/v1/deployments?service={service.pk}").content)
    by_id = {d["deployment_id"]: d for d in body["results"]}
    assert by_id[newest.deployment_id]["changes"] == EXPECTED
    previous = by_id[by_id[newest.deployment_id]["changes_against"]]
    assert previous["task_definition"] == before

    page = viewer_client.get(f"/services/{service.pk}/").content.decode()
    cell = row_changes(page, newest.deployment_id)
    shown = [f"{c['field']}: {c['before']} → {c['after']}" for c in EXPECTED]
    assert all(s in cell for s in shown), cell
    assert cell.count("→") == len(EXPECTED)  # exactly those, nothing more

    compare = json.loads(viewer_client.get(f"/api/v1/services/{service.pk}/compare").content)
    assert compare["changes"] == EXPECTED
    assert compare["from"]["task_definition"] == before
