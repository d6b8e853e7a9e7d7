"""The AWS adapter's deployment-history reads and StopServiceDeployment, over HTTP
against the sandbox: full pages, batches of 20, missing ARNs, typed errors."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.ecs import EcsReader
from clusters.aws.ecs_actions import (
    ServiceDeploymentNotFound,
    ServiceDeploymentNotInFlight,
    service_deployment_stop,
)
from clusters.aws.session import aws_client, clients_forget
from clusters.models import AwsAccount
from tests.ecs_seed import boto, seed_external_fleet

pytestmark = pytest.mark.django_db


def _unknown(arn: str) -> str:
    """The same ARN with an id no deployment has (ids are 19 random digits)."""
    return arn.rsplit("/", 1)[0] + "/" + "0" * 19


@pytest.fixture
def account(sandbox: Any) -> AwsAccount:
    seed_external_fleet(sandbox, cluster="hist", instances=2, services=1, tasks_per_service=1)
    clients_forget()
    return AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )


def _reader(account: AwsAccount) -> EcsReader:
    return EcsReader(aws_client(account=account, region="us-east-1", service="ecs", fresh=True))


def _service(reader: EcsReader) -> str:
    (arn,) = reader.service_arns("hist")
    return arn


def test_history_is_read_in_full_pages_and_batches_of_20(account: AwsAccount, sandbox: Any):
    ecs = boto("ecs", sandbox.url)
    reader = _reader(account)
    svc = _service(reader)
    for _ in range(101):
        ecs.update_service(cluster="hist", service=svc, forceNewDeployment=True)
    history = reader.service_deployments("hist", svc)
    assert len(history) == 102 and reader.calls["ListServiceDeployments"] == 2
    assert len({d.arn for d in history}) == 102
    newest = history[0]
    assert newest.status == "PENDING"
    primary = reader.services("hist", [svc])[0].deployments[0]
    assert primary.deployment_id == newest.deployment_id
    assert [d.arn for d in reader.service_deployments("hist", svc, status=["PENDING"])] == [
        newest.arn
    ]
    fifth = history[4]
    assert fifth.created_at is not None
    recent = reader.service_deployments("hist", svc, created_after=fifth.created_at)
    assert [d.arn for d in recent] == [d.arn for d in history[:5]]

    gone = _unknown(newest.arn)
    described, missing = reader.describe_service_deployments([d.arn for d in history[:21]] + [gone])
    assert reader.calls["DescribeServiceDeployments"] == 2
    assert {d.arn for d in described} == {d.arn for d in history[:21]} and missing == [gone]
    first = next(d for d in described if d.arn == newest.arn)
    assert first.target is not None and first.target.arn == newest.target_revision_arn
    assert first.circuit_breaker is not None and first.circuit_breaker.threshold == 3
    # no tick yet: every earlier deployment is still ACTIVE beside the new PRIMARY
    assert first.in_flight and history[1].target_revision_arn in {s.arn for s in first.sources}

    rev_arns = [d.target_revision_arn for d in history[:40]]
    revisions, missing = reader.describe_service_revisions([*rev_arns, gone])
    assert reader.calls["DescribeServiceRevisions"] == 3
    assert len(revisions) == 40 and missing == [gone]
    rev = next(r for r in revisions if r.arn == newest.target_revision_arn)
    assert rev.task_definition_arn == primary.task_definition_arn
    assert rev.launch_type == "EXTERNAL" and rev.container_images
    image = rev.container_images[0]
    assert image.image and image.image_digest.startswith("sha256:")


def test_stop_rolls_back_and_maps_errors(account: AwsAccount, sandbox: Any):
    ecs = boto("ecs", sandbox.url)
    reader = _reader(account)
    svc = _service(reader)
    before = reader.services("hist", [svc])[0].task_definition_arn
    td = ecs.describe_task_definition(taskDefinition=before)["taskDefinition"]
    new_td = ecs.register_task_definition(
        family=td["family"],
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[{**td["containerDefinitions"][0], "image": "nginx:9.9"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="hist", service=svc, taskDefinition=new_td)
    arn = reader.service_deployments("hist", svc)[0].arn
    assert service_deployment_stop(arn, account=account) == arn
    # a deployment already rolling back "continues the rollback": the same answer
    assert service_deployment_stop(arn, "ROLLBACK", account=account, region="us-east-1") == arn
    (sd,), _ = reader.describe_service_deployments([arn])
    assert sd.status == "ROLLBACK_REQUESTED" and sd.in_flight
    for _ in range(10):
        sandbox.client.tick(1)
        (sd,), _ = reader.describe_service_deployments([arn])
        if sd.status == "ROLLBACK_SUCCESSFUL":
            break
    assert sd.status == "ROLLBACK_SUCCESSFUL" and not sd.in_flight
    assert sd.rollback is not None and sd.rollback.revision_arn
    (revision,), _ = reader.describe_service_revisions([sd.rollback.revision_arn])
    assert revision.task_definition_arn == before
    assert reader.services("hist", [svc])[0].task_definition_arn == before
    with pytest.raises(ServiceDeploymentNotInFlight) as err:
        service_deployment_stop(arn, account=account)
    assert err.value.code == "ConflictException"
    with pytest.raises(ServiceDeploymentNotFound):
        service_deployment_stop(_unknown(arn), account=account)
