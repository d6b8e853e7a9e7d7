"""Service deployments and revisions (ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions, StopServiceDeployment), seen through boto3 only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.helpers import activate_and_register, service


def _unknown(arn: str) -> str:
    """The same ARN with an id no deployment has (ids are 19 random digits)."""
    return arn.rsplit("/", 1)[0] + "/" + "0" * 19


def _td(ecs: Any, image: str) -> str:
    return ecs.register_task_definition(
        family="web",
        requiresCompatibilities=["EXTERNAL"],
        networkMode="bridge",
        containerDefinitions=[
            {"name": "web", "image": image, "cpu": 128, "memory": 128, "essential": True}
        ],
    )["taskDefinition"]["taskDefinitionArn"]


def _web(ecs: Any, desired: int = 2, breaker: dict[str, bool] | None = None) -> None:
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition=_td(ecs, "nginx:1.27"),
        desiredCount=desired,
        launchType="EXTERNAL",
        deploymentConfiguration={
            "deploymentCircuitBreaker": breaker or {"enable": False, "rollback": False}
        },
    )


def _history(ecs: Any, **kw: Any) -> list[dict[str, Any]]:
    return ecs.list_service_deployments(cluster="edge", service="web", **kw)["serviceDeployments"]


def _describe(ecs: Any, arn: str) -> dict[str, Any]:
    return ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def _tick_until(sandbox: Any, ecs: Any, arn: str, status: str, limit: int = 15) -> dict[str, Any]:
    for _ in range(limit):
        sandbox.client.tick(1)
        sd = _describe(ecs, arn)
        if sd["status"] == status:
            return sd
    raise AssertionError(f"{arn} never reached {status}: {sd['status']}")


def test_each_deployment_has_a_service_deployment_and_an_immutable_revision(aws, sandbox):
    """A deployment (CreateService, UpdateService) is a service deployment PENDING ->
    IN_PROGRESS -> SUCCESSFUL whose target is a new service revision (task definition,
    containerImages with digests, launch type, serviceRegistries); its ARN ends with the
    id DescribeServices shows.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceRevision.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    _web(ecs)
    first = _history(ecs)[0]
    assert first["status"] == "PENDING" and "startedAt" not in first
    first_id = service(ecs)["deployments"][0]["id"]
    assert first["serviceDeploymentArn"] == (
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/edge/web/"
        + first_id.removeprefix("ecs-svc/")
    )
    _tick_until(sandbox, ecs, first["serviceDeploymentArn"], "SUCCESSFUL")
    bad_td = _td(ecs, "nginx:1.28")
    ecs.update_service(cluster="edge", service="web", taskDefinition=bad_td)
    newest, older = _history(ecs)
    assert older["status"] == "SUCCESSFUL" and older["finishedAt"] >= older["startedAt"]
    assert newest["serviceDeploymentArn"].endswith(
        service(ecs)["deployments"][0]["id"].removeprefix("ecs-svc/")
    )
    sd = _tick_until(sandbox, ecs, newest["serviceDeploymentArn"], "SUCCESSFUL")
    assert [s["arn"] for s in sd["sourceServiceRevisions"]] == [older["targetServiceRevisionArn"]]
    assert sd["targetServiceRevision"]["arn"] == newest["targetServiceRevisionArn"]
    assert sd["targetServiceRevision"]["runningTaskCount"] == 2
    assert sd["deploymentCircuitBreaker"] == {
        "status": "DISABLED",
        "failureCount": 0,
        "threshold": 3,
    }
    revs = ecs.describe_service_revisions(
        serviceRevisionArns=[older["targetServiceRevisionArn"], newest["targetServiceRevisionArn"]]
    )["serviceRevisions"]
    assert [r["taskDefinition"].rsplit("/", 1)[-1] for r in revs] == ["web:1", "web:2"]
    images = [r["containerImages"][0] for r in revs]
    assert [(i["containerName"], i["image"]) for i in images] == [
        ("web", "nginx:1.27"),
        ("web", "nginx:1.28"),
    ]
    assert all(i["imageDigest"].startswith("sha256:") for i in images)
    assert images[0]["imageDigest"] != images[1]["imageDigest"]
    assert all(r["launchType"] == "EXTERNAL" and r["serviceRegistries"] == [] for r in revs)
    assert revs[0]["createdAt"] <= revs[1]["createdAt"]


def test_list_service_deployments_filters_and_pages(aws, sandbox):
    """status and createdAt{after, before} filters, newest first, maxResults 1-100
    (default 20) with nextToken; an unknown service is ServiceNotFoundException.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    _web(ecs, desired=1)
    sandbox.client.tick(3)
    for _ in range(4):
        ecs.update_service(cluster="edge", service="web", forceNewDeployment=True)
        sandbox.client.tick(1)
    every = _history(ecs)
    assert len(every) == 5
    stamps = [d["createdAt"] for d in every]
    assert stamps == sorted(stamps, reverse=True)
    assert [d["status"] for d in _history(ecs, status=["SUCCESSFUL"])] == ["SUCCESSFUL"]
    assert len(_history(ecs, status=["STOPPED", "IN_PROGRESS"])) == 4
    middle = every[2]["createdAt"]
    assert len(_history(ecs, createdAt={"after": middle})) == 3
    assert len(_history(ecs, createdAt={"before": middle - timedelta(seconds=1)})) == 2
    page = ecs.list_service_deployments(cluster="edge", service="web", maxResults=2)
    assert len(page["serviceDeployments"]) == 2 and page["nextToken"]
    rest = ecs.list_service_deployments(
        cluster="edge", service="web", maxResults=100, nextToken=page["nextToken"]
    )
    assert len(rest["serviceDeployments"]) == 3 and "nextToken" not in rest
    with pytest.raises(ClientError) as err:
        ecs.list_service_deployments(cluster="edge", service="web", maxResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        ecs.list_service_deployments(cluster="edge", service="nope")
    assert err.value.response["Error"]["Code"] == "ServiceNotFoundException"


def test_describe_calls_take_at_most_20_arns_and_report_unknown_ones(aws, sandbox):
    """At most 20 ARNs per DescribeServiceDeployments / DescribeServiceRevisions; unknown
    ARNs come back in failures (reason MISSING).
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html"""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    _web(ecs, desired=1)
    known = _history(ecs)[0]
    gone = _unknown(known["serviceDeploymentArn"])
    out = ecs.describe_service_deployments(
        serviceDeploymentArns=[known["serviceDeploymentArn"], gone]
    )
    assert [d["serviceDeploymentArn"] for d in out["serviceDeployments"]] == [
        known["serviceDeploymentArn"]
    ]
    assert out["failures"] == [{"arn": gone, "reason": "MISSING"}]
    revs = ecs.describe_service_revisions(serviceRevisionArns=[known["targetServiceRevisionArn"]])
    assert revs["serviceRevisions"][0]["serviceArn"] == service(ecs)["serviceArn"]
    assert revs["failures"] == []
    for call, key in (
        (ecs.describe_service_deployments, "serviceDeploymentArns"),
        (ecs.describe_service_revisions, "serviceRevisionArns"),
    ):
        with pytest.raises(ClientError) as err:
            call(**{key: [gone] * 21})
        assert err.value.response["Error"]["Code"] == "InvalidParameterException"
        assert call(**{key: [gone] * 20})["failures"][0]["reason"] == "MISSING"


def test_stop_service_deployment_rolls_back_without_circuit_breaker(aws, sandbox):
    """StopServiceDeployment(ROLLBACK) on an IN_PROGRESS deployment: ROLLBACK_REQUESTED ->
    ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL, back on the previous revision, even
    though the deployment had no rollback configured; no new service deployment or
    revision. A finished deployment cannot be stopped (ConflictException).
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    _web(ecs)
    good = _history(ecs)[0]
    _tick_until(sandbox, ecs, good["serviceDeploymentArn"], "SUCCESSFUL")
    bad_td = _td(ecs, "nginx:broken")
    sandbox.client.crash_task_definition(bad_td, exit_code=1, reason="boom")
    ecs.update_service(cluster="edge", service="web", taskDefinition=bad_td)
    sandbox.client.tick(2)
    bad = _history(ecs)[0]
    assert bad["status"] == "IN_PROGRESS"
    arn = bad["serviceDeploymentArn"]
    answer = ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert answer["serviceDeploymentArn"] == arn
    assert _describe(ecs, arn)["status"] == "ROLLBACK_REQUESTED"
    sandbox.client.tick(1)
    sd = _describe(ecs, arn)
    assert sd["status"] == "ROLLBACK_IN_PROGRESS"
    assert sd["rollback"]["serviceRevisionArn"] == good["targetServiceRevisionArn"]
    assert sd["rollback"]["startedAt"] and sd["rollback"]["reason"]
    sd = _tick_until(sandbox, ecs, arn, "ROLLBACK_SUCCESSFUL")
    assert sd["finishedAt"] >= sd["rollback"]["startedAt"]
    svc = service(ecs)
    assert len(svc["deployments"]) == 1
    primary = svc["deployments"][0]
    assert primary["taskDefinition"].endswith("web:1") and primary["rolloutState"] == "COMPLETED"
    assert svc["runningCount"] == 2
    assert len(_history(ecs)) == 2  # a rollback is no new service deployment
    with pytest.raises(ClientError) as err:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as err:
        ecs.stop_service_deployment(serviceDeploymentArn=_unknown(arn))
    assert err.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_circuit_breaker_rollback_is_rollback_successful(aws, sandbox):
    """Circuit breaker with rollback: the service deployment goes ROLLBACK_IN_PROGRESS
    (breaker TRIGGERED, failureCount >= threshold) then ROLLBACK_SUCCESSFUL, and the old
    revision's task definition is PRIMARY again under a new ECS deployment id.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html"""
    activate_and_register(aws, sandbox, n=2)
    ecs = aws("ecs")
    _web(ecs, breaker={"enable": True, "rollback": True})
    good = _history(ecs)[0]
    _tick_until(sandbox, ecs, good["serviceDeploymentArn"], "SUCCESSFUL")
    bad_td = _td(ecs, "nginx:broken")
    sandbox.client.crash_task_definition(bad_td, exit_code=137)
    ecs.update_service(cluster="edge", service="web", taskDefinition=bad_td)
    bad_id = service(ecs)["deployments"][0]["id"]
    arn = _history(ecs)[0]["serviceDeploymentArn"]
    sd = _tick_until(sandbox, ecs, arn, "ROLLBACK_IN_PROGRESS")
    breaker = sd["deploymentCircuitBreaker"]
    assert breaker["status"] == "TRIGGERED" and breaker["threshold"] == 3
    assert breaker["failureCount"] >= 3
    assert sd["rollback"]["serviceRevisionArn"] == good["targetServiceRevisionArn"]
    assert sd["rollback"]["reason"].startswith("ECS deployment circuit breaker")
    sd = _tick_until(sandbox, ecs, arn, "ROLLBACK_SUCCESSFUL")
    primary = service(ecs)["deployments"][0]
    assert primary["id"] != bad_id and primary["taskDefinition"].endswith("web:1")
    assert primary["rolloutState"] == "COMPLETED"
    assert [d["status"] for d in _history(ecs)] == ["ROLLBACK_SUCCESSFUL", "SUCCESSFUL"]


def test_circuit_breaker_without_rollback_stops_the_deployment(aws, sandbox):
    """Breaker on, rollback off: the service deployment is STOPPED with the breaker's
    reason and TRIGGERED; the threshold is 0.5 x desired, at least 3, at most 200.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeploymentCircuitBreaker.html"""
    activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    sandbox.client.crash_task_definition("web", exit_code=1, reason="boom")
    _web(ecs, desired=1, breaker={"enable": True, "rollback": False})
    arn = _history(ecs)[0]["serviceDeploymentArn"]
    sd = _tick_until(sandbox, ecs, arn, "STOPPED")
    assert sd["statusReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert sd["deploymentCircuitBreaker"] == {
        "status": "TRIGGERED",
        "failureCount": 3,
        "threshold": 3,
    }
    assert sd["stoppedAt"] and "rollback" not in sd
    for desired, threshold in ((10, 5), (1000, 200)):
        ecs.update_service(cluster="edge", service="web", desiredCount=desired)
        assert _describe(ecs, arn)["deploymentCircuitBreaker"]["threshold"] == threshold
