"""Request counting and fault injection at the HTTP layer."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError


def test_request_counts_by_service_and_operation(aws, sandbox):
    """GET /_sandbox/requests counts AWS requests by service:Operation (JSON X-Amz-Target
    for ECS/SSM, Action= for query-protocol EC2); DELETE resets."""
    ecs, ssm, ec2 = aws("ecs"), aws("ssm"), aws("ec2")
    sandbox.client.reset_request_counts()
    ecs.list_clusters()
    ecs.list_clusters()
    ssm.describe_activations()
    ec2.describe_regions()
    counts = sandbox.client.request_counts()
    assert counts == {"ecs:ListClusters": 2, "ssm:DescribeActivations": 1, "ec2:DescribeRegions": 1}
    sandbox.client.reset_request_counts()
    assert sandbox.client.request_counts() == {}


def test_throttle_schedule_and_count(aws, sandbox):
    """Throttling answers HTTP 400 with AWS's JSON error ThrottlingException "Rate exceeded";
    a schedule decides request by request, a count fails the first N."""
    ecs = aws("ecs")
    sandbox.client.set_faults(
        [
            {
                "service": "ecs",
                "operation": "ListClusters",
                "fault": "throttle",
                "schedule": [True, False, True],
            }
        ]
    )
    outcomes = []
    for _ in range(4):
        try:
            ecs.list_clusters()
            outcomes.append("ok")
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert exc.response["Error"] == {
                "Code": "ThrottlingException",
                "Message": "Rate exceeded",
            }
            outcomes.append("throttled")
    assert outcomes == ["throttled", "ok", "throttled", "ok"]
    sandbox.client.set_faults([{"service": "*", "operation": "*", "fault": "error500", "count": 1}])
    with pytest.raises(ClientError) as err:
        aws("ssm").describe_activations()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    ecs.list_clusters()
    sandbox.client.clear_faults()


def test_boto3_retries_through_a_throttle(aws, sandbox):
    """botocore's standard retry mode absorbs an occasional throttle (rate with a seed)."""
    sandbox.client.set_faults(
        [{"service": "ecs", "operation": "DescribeClusters", "fault": "throttle", "count": 2}]
    )
    ecs = aws("ecs", retries=True)
    ecs.describe_clusters(clusters=["default"])
    assert sandbox.client.request_counts()["ecs:DescribeClusters"] == 3


def test_stall(aws, sandbox):
    """A stall rule delays the answer by stall_seconds."""
    sandbox.client.set_faults(
        [
            {
                "service": "ecs",
                "operation": "ListClusters",
                "fault": "stall",
                "stall_seconds": 0.5,
                "count": 1,
            }
        ]
    )
    start = time.monotonic()
    aws("ecs").list_clusters()
    assert time.monotonic() - start >= 0.5


def test_reset_wipes_everything(aws, sandbox):
    """POST /_sandbox/reset wipes moto's state and the sandbox's extensions."""
    ecs, ssm = aws("ecs"), aws("ssm")
    ecs.create_cluster(clusterName="edge")
    ssm.create_activation(IamRole="r")
    sandbox.client.set_faults(
        [{"service": "ecs", "operation": "CreateCluster", "fault": "throttle"}]
    )
    sandbox.client.reset()
    assert ecs.list_clusters()["clusterArns"] == []
    assert ssm.describe_activations()["ActivationList"] == []
    assert sandbox.client.request_counts() == {"ecs:ListClusters": 1, "ssm:DescribeActivations": 1}
