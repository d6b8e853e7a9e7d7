"""The demo fleet (`--seed demo` / POST /_sandbox/seed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def test_demo_seed_is_a_believable_hybrid_fleet(aws, sandbox):
    """Two regions; prod-ec2 (EC2 instances) and onprem-edge (external instances, one
    DRAINING, one with its agent disconnected); 8+ services, one mid-deployment, one
    whose last deployment FAILED, one scaled to zero; stopped tasks with non-zero exit
    codes and OOM reasons; an activation expiring within a day."""
    sandbox.client.seed("demo")
    for region in ("us-east-1", "eu-west-1"):
        ecs = aws("ecs", region)
        names = {a.rsplit("/", 1)[-1] for a in ecs.list_clusters()["clusterArns"]}
        assert names == {"prod-ec2", "onprem-edge"}
    ecs = aws("ecs")
    services = []
    for cluster in ("prod-ec2", "onprem-edge"):
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        services += ecs.describe_services(cluster=cluster, services=arns)["services"]
    west = aws("ecs", "eu-west-1")
    total = len(services) + sum(
        len(west.list_services(cluster=c)["serviceArns"]) for c in ("prod-ec2", "onprem-edge")
    )
    assert total >= 8
    by_name = {s["serviceName"]: s for s in services}
    assert by_name["reports"]["desiredCount"] == 0
    assert len(by_name["web"]["deployments"]) == 2
    assert by_name["web"]["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert any(
        "deployment failed: tasks failed to start." in e["message"]
        for e in by_name["api"]["events"]
    )
    assert by_name["api"]["deployments"][0]["rolloutState"] == "FAILED"
    assert by_name["api"]["runningCount"] == 2
    plc = by_name["plc-bridge"]
    assert plc["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert "was unable to place a task" in plc["events"][0]["message"]
    cis = ecs.describe_container_instances(
        cluster="onprem-edge",
        containerInstances=ecs.list_container_instances(cluster="onprem-edge")[
            "containerInstanceArns"
        ],
    )["containerInstances"]
    assert all(c["ec2InstanceId"].startswith("mi-") for c in cis)
    assert any(c["status"] == "DRAINING" for c in cis)
    assert any(not c["agentConnected"] for c in cis)
    ec2_cis = ecs.list_container_instances(cluster="prod-ec2")["containerInstanceArns"]
    assert len(ec2_cis) >= 2
    stopped = ecs.list_tasks(cluster="prod-ec2", desiredStatus="STOPPED")["taskArns"]
    tasks = ecs.describe_tasks(cluster="prod-ec2", tasks=stopped[:100])["tasks"]
    codes = {c.get("exitCode") for t in tasks for c in t["containers"]}
    assert 137 in codes
    assert any(
        (c.get("reason") or "").startswith("OutOfMemoryError")
        for t in tasks
        for c in t["containers"]
    )
    acts = aws("ssm").describe_activations()["ActivationList"]
    assert any(a["ExpirationDate"] - datetime.now(UTC) < timedelta(days=1) for a in acts)
    # Four edge machines and a spare (drained since it joined: the bill's idle one).
    assert len(aws("ssm").describe_instance_information()["InstanceInformationList"]) == 5


def test_demo_edge_machines_registered_days_apart(aws, sandbox):
    """AWS: DescribeContainerInstances returns ``registeredAt``, the moment the ECS
    agent registered the instance, and DescribeInstanceInformation the SSM
    ``RegistrationDate``. The demo's edge machines registered days apart (in this
    month and the ones before), so the ECS Anywhere bill has something to add up."""
    sandbox.client.seed("demo")
    now = datetime.now(UTC)
    expected = {"us-east-1": [2.5, 9.0, 12.0, 20.0, 45.0], "eu-west-1": [0.5, 33.0]}
    for region, ages in expected.items():
        ecs = aws("ecs", region)
        arns = ecs.list_container_instances(cluster="onprem-edge")["containerInstanceArns"]
        cis = ecs.describe_container_instances(cluster="onprem-edge", containerInstances=arns)[
            "containerInstances"
        ]
        got = sorted((now - c["registeredAt"]) / timedelta(days=1) for c in cis)
        # + the ~40 minutes over which the seed writes its history
        assert got == pytest.approx(ages, abs=0.1)
        ssm = aws("ssm", region).describe_instance_information()["InstanceInformationList"]
        registered = {i["InstanceId"]: i["RegistrationDate"] for i in ssm}
        for c in cis:
            assert abs(registered[c["ec2InstanceId"]] - c["registeredAt"]) < timedelta(seconds=1)
