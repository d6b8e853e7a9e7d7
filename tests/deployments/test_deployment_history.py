"""Against the sandbox: the deployment history (ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions) mirrored at the API minimum.
The AWS pages copied are the sandbox's (docs/sandbox.md); here: a listing only
when DescribeServices shows a change, describes of 20, a revision described once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.aws.ecs import EcsReader
from clusters.aws.errors import AwsPermanentError
from deployments.history import history_prune
from deployments.models import ServiceDeployment, ServiceHistoryCursor, ServiceRevision
from deployments.sync import cluster_sync
from tests.deployments.redeploy_fleet import Fleet, fleet_create

pytestmark = pytest.mark.django_db

HISTORY_OPS = (
    "ecs:ListServiceDeployments",
    "ecs:DescribeServiceDeployments",
    "ecs:DescribeServiceRevisions",
)


@pytest.fixture
def described(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """The ARNs of every DescribeServiceDeployments / DescribeServiceRevisions batch."""
    seen: dict[str, list[list[str]]] = {"deployments": [], "revisions": []}

    def spy(kind: str, original: Any) -> Any:
        def describe(self: EcsReader, arns: Sequence[str]) -> Any:
            out = original(self, arns)
            for i in range(0, len(arns), 20):
                seen[kind].append(list(arns[i : i + 20]))
            return out

        return describe

    for kind, name in (
        ("deployments", "describe_service_deployments"),
        ("revisions", "describe_service_revisions"),
    ):
        monkeypatch.setattr(EcsReader, name, spy(kind, getattr(EcsReader, name)))
    return seen


def _register(fleet: Fleet, image: str) -> str:
    return str(
        fleet.ecs.register_task_definition(
            family="app",
            requiresCompatibilities=["EXTERNAL"],
            networkMode="bridge",
            containerDefinitions=[
                {"name": "app", "image": image, "cpu": 128, "memory": 256, "essential": True}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def _sync(fleet: Fleet) -> None:
    run = cluster_sync(cluster_id=fleet.services["web"].cluster_id)
    assert run is not None and run.status == "succeeded", run.errors if run else None


def _history_calls(sandbox: Any) -> dict[str, int]:
    counts = sandbox.client.request_counts()
    return {op: counts[op] for op in HISTORY_OPS if counts.get(op)}


def test_two_updates_give_three_deployments_with_their_revisions_then_no_calls(
    sandbox: Any, described: dict[str, list[list[str]]]
) -> None:
    fleet = fleet_create(sandbox, desired=2, instances=1)
    service = fleet.services["web"]
    assert ServiceDeployment.objects.filter(service=service).count() == 1
    for image in ("example/app:2", "example/app:3"):
        fleet.ecs.update_service(
            cluster="edge", service="web", taskDefinition=_register(fleet, image)
        )
        sandbox.client.tick(3)
        _sync(fleet)
    _sync(fleet)  # whatever settled after the last tick

    rows = list(ServiceDeployment.objects.filter(service=service).order_by("created_at_aws"))
    assert len(rows) == 3
    aws = fleet.ecs.list_service_deployments(cluster="edge", service="web")
    assert {r.arn for r in rows} == {d["serviceDeploymentArn"] for d in aws["serviceDeployments"]}
    revisions = {r.arn: r for r in ServiceRevision.objects.filter(service=service)}
    images = [revisions[r.target_revision_arn].container_images[0]["image"] for r in rows]
    assert images == ["example/app:1", "example/app:2", "example/app:3"]
    # each deployment after the first replaced the one before: its source revision
    assert rows[2].source_revision_arns == [rows[1].target_revision_arn]
    assert revisions[rows[2].target_revision_arn].task_definition is not None
    mirrored_ids = set(service.deployments.values_list("deployment_id", flat=True))
    assert {r.deployment_id for r in rows} <= mirrored_ids
    # A revision is described once ever, though later deployments name it as a source.
    arns = [a for batch in described["revisions"] for a in batch]
    assert sorted(arns) == sorted(set(arns)) and len(arns) == 3

    sandbox.client.reset_request_counts()
    _sync(fleet)
    assert _history_calls(sandbox) == {}


def test_more_than_twenty_new_deployments_are_described_in_batches_of_twenty(
    sandbox: Any, described: dict[str, list[list[str]]]
) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    described["deployments"].clear()
    described["revisions"].clear()
    for _ in range(22):
        fleet.ecs.update_service(cluster="edge", service="web", forceNewDeployment=True)
    sandbox.client.reset_request_counts()
    _sync(fleet)

    assert ServiceDeployment.objects.filter(service=fleet.services["web"]).count() == 23
    sizes = [len(batch) for batch in described["deployments"]]
    assert max(sizes) == 20 and sum(sizes) >= 22
    calls = _history_calls(sandbox)
    assert calls["ecs:ListServiceDeployments"] == 1
    assert calls["ecs:DescribeServiceDeployments"] == math.ceil(sum(sizes) / 20) == len(sizes)
    revs = [a for batch in described["revisions"] for a in batch]
    assert calls["ecs:DescribeServiceRevisions"] == math.ceil(len(revs) / 20)


def test_history_is_kept_past_the_retention(sandbox: Any) -> None:
    fleet = fleet_create(sandbox, desired=1, instances=1)
    old = timezone.now() - timedelta(days=400)
    ServiceDeployment.objects.update(created_at_aws=old, updated_at_aws=old, finished_at=old)
    ServiceRevision.objects.update(created_at_aws=old)
    history_prune(days=30)
    assert ServiceDeployment.objects.filter(service=fleet.services["web"]).count() == 1
    assert ServiceRevision.objects.filter(service=fleet.services["web"]).count() == 1


def test_a_refused_listing_is_not_retried_until_the_deployments_change(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An IAM policy without ecs:ListServiceDeployments: recorded once, and no call per
    sync for an unchanged service (a transient error is retried at the next sync)."""
    fleet = fleet_create(sandbox, desired=1, instances=1)
    ServiceHistoryCursor.objects.all().delete()
    tries: list[str] = []

    def refused(self: EcsReader, cluster: str, service: str, **kw: Any) -> Any:
        tries.append(service)
        raise AwsPermanentError("AccessDeniedException", "not authorized", operation="x")

    monkeypatch.setattr(EcsReader, "service_deployments", refused)
    run = cluster_sync(cluster_id=fleet.services["web"].cluster_id)
    assert run is not None and run.status == "succeeded"
    assert any("AccessDeniedException" in e for e in run.errors)
    _sync(fleet)
    assert len(tries) == 1


def test_a_rollout_state_change_is_listed_and_described_again_its_revisions_not(
    sandbox: Any,
) -> None:
    """The circuit breaker fails a rollout (rollback off): no new deployment id, only a
    rollout state change in DescribeServices. One listing, one describe, no revision."""
    fleet = fleet_create(sandbox, desired=2, instances=1, rollback=False)
    broken = _register(fleet, "example/app:2")
    sandbox.client.crash_task_definition(broken, exit_code=1)
    fleet.ecs.update_service(cluster="edge", service="web", taskDefinition=broken)
    _sync(fleet)  # the new deployment, in flight
    newest = ServiceDeployment.objects.filter(service=fleet.services["web"]).first()
    assert newest is not None and newest.status in ("PENDING", "IN_PROGRESS")

    def rollout() -> str:
        svc = fleet.ecs.describe_services(cluster="edge", services=["web"])["services"][0]
        return str(next(d for d in svc["deployments"] if d["status"] == "PRIMARY")["rolloutState"])

    for _ in range(15):
        if rollout() == "FAILED":
            break
        sandbox.client.tick(1)
    assert rollout() == "FAILED"
    sandbox.client.reset_request_counts()
    _sync(fleet)
    assert _history_calls(sandbox) == {
        "ecs:ListServiceDeployments": 1,
        "ecs:DescribeServiceDeployments": 1,
    }
    newest.refresh_from_db()
    aws = fleet.ecs.describe_service_deployments(serviceDeploymentArns=[newest.arn])
    assert newest.status == aws["serviceDeployments"][0]["status"] != "IN_PROGRESS"
    assert newest.circuit_breaker is not None and newest.circuit_breaker["status"] == "TRIGGERED"

    sandbox.client.reset_request_counts()
    _sync(fleet)
    assert _history_calls(sandbox) == {}


def test_the_history_on_the_service_page_and_in_the_api(
    sandbox: Any, viewer_client: Any, anon_client: Any, django_assert_max_num_queries: Any
) -> None:
    """What was mirrored is shown: the page's "Deployment history" and
    /api/v1/services/<id>/history, newest first, with the images each deployed."""
    fleet = fleet_create(sandbox, desired=1, instances=1)
    service = fleet.services["web"]
    fleet.ecs.update_service(
        cluster="edge", service="web", taskDefinition=_register(fleet, "example/app:2")
    )
    sandbox.client.tick(3)
    _sync(fleet)
    _sync(fleet)
    newest, oldest = ServiceDeployment.objects.filter(service=service)[:2]

    page = viewer_client.get(f"/services/{service.pk}/").content.decode()
    section = page.split('id="deployment-history"', 1)[1].split("</section>", 1)[0]
    rows = section.split("data-history=")[1:]
    assert [r.split('"')[1] for r in rows] == [newest.deployment_id, oldest.deployment_id]
    assert "example/app:2" in rows[0] and "example/app:1" in rows[1]

    with django_assert_max_num_queries(8):  # session, user, roles, service, rows, revisions
        response = viewer_client.get(f"/api/v1/services/{service.pk}/history?limit=1")
    assert response.status_code == 200
    [row] = response.json()
    assert row["deployment_id"] == newest.deployment_id and row["status"] == newest.status
    assert row["container_images"][0]["image"] == "example/app:2"
    assert row["task_definition"].endswith(":2")
    for bad in ("0", "101", "x"):
        response = viewer_client.get(f"/api/v1/services/{service.pk}/history?limit={bad}")
        assert response.status_code == 400 and "limit" in response.json()["errors"]
    assert viewer_client.get("/api/v1/services/999999/history").status_code == 404
    assert anon_client.get(f"/api/v1/services/{service.pk}/history").status_code == 401
