"""ECS Anywhere: registering on-prem machines and running EXTERNAL work on them."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.client import SandboxError
from tests.sandbox.helpers import activate_and_register, external_task_definition


def test_register_instance_creates_managed_and_container_instance(aws, sandbox):
    """The install script registers an SSM managed instance (mi- + 17 hex) and an ECS
    external container instance whose ec2InstanceId is that mi- id, with the
    ecs.capability.external attribute.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-anywhere-registration.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html"""
    (out,) = activate_and_register(aws, sandbox, n=1, ip="192.168.1.20")
    assert re.fullmatch(r"mi-[0-9a-f]{17}", out["instanceId"])
    info = aws("ssm").describe_instance_information()["InstanceInformationList"]
    assert len(info) == 1
    i = info[0]
    assert i["InstanceId"] == out["instanceId"]
    assert i["PingStatus"] == "Online"
    assert i["ResourceType"] == "ManagedInstance"
    assert i["PlatformType"] == "Linux"
    assert i["IPAddress"] == "192.168.1.20"
    assert i["ComputerName"] == "edge-0"
    assert i["IamRole"] == "ecsAnywhereRole"
    for key in ("ActivationId", "AgentVersion", "RegistrationDate", "Name", "PlatformName"):
        assert key in i
    ecs = aws("ecs")
    ci = ecs.describe_container_instances(
        cluster="edge", containerInstances=[out["containerInstanceArn"]]
    )["containerInstances"][0]
    assert ci["ec2InstanceId"] == out["instanceId"]
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is True
    names = {a["name"] for a in ci["attributes"]}
    assert "ecs.capability.external" in names
    assert "com.amazonaws.ecs.capability.docker-remote-api.1.17" in names
    assert ci["versionInfo"]["agentVersion"] and ci["versionInfo"]["dockerVersion"]
    reg = {
        r["name"]: r["integerValue"] for r in ci["registeredResources"] if r["type"] == "INTEGER"
    }
    assert reg == {"CPU": 2048, "MEMORY": 4096}
    act = aws("ssm").describe_activations()["ActivationList"][0]
    assert act["RegistrationsCount"] == 1


def test_filters_on_instance_information(aws, sandbox):
    """DescribeInstanceInformation Filters InstanceIds / ActivationIds."""
    outs = activate_and_register(aws, sandbox, n=3)
    ssm = aws("ssm")
    got = ssm.describe_instance_information(
        Filters=[{"Key": "InstanceIds", "Values": [outs[1]["instanceId"]]}]
    )
    assert [i["InstanceId"] for i in got["InstanceInformationList"]] == [outs[1]["instanceId"]]
    act_id = got["InstanceInformationList"][0]["ActivationId"]
    got = ssm.describe_instance_information(Filters=[{"Key": "ActivationIds", "Values": [act_id]}])
    assert len(got["InstanceInformationList"]) == 3


def test_registration_fails_on_limit_code_expiry_and_deletion(aws, sandbox):
    """An activation stops admitting machines at its registration limit, with a wrong
    code, after expiry or once deleted (InvalidActivation)."""
    ssm = aws("ssm")
    aws("ecs").create_cluster(clusterName="edge")
    act = ssm.create_activation(IamRole="r", RegistrationLimit=1)
    reg = sandbox.client.register_instance
    with pytest.raises(SandboxError) as err:
        reg(activation_id=act["ActivationId"], activation_code="x" * 20, cluster="edge")
    assert err.value.payload["error"] == "InvalidActivation"
    reg(activation_id=act["ActivationId"], activation_code=act["ActivationCode"], cluster="edge")
    with pytest.raises(SandboxError) as err:
        reg(
            activation_id=act["ActivationId"], activation_code=act["ActivationCode"], cluster="edge"
        )
    assert "limit" in err.value.payload["message"]
    short = ssm.create_activation(
        IamRole="r", ExpirationDate=datetime.now(UTC) + timedelta(seconds=3)
    )
    sandbox.client.tick(3)
    with pytest.raises(SandboxError) as err:
        reg(
            activation_id=short["ActivationId"],
            activation_code=short["ActivationCode"],
            cluster="edge",
        )
    assert "expired" in err.value.payload["message"]
    gone = ssm.create_activation(IamRole="r")
    ssm.delete_activation(ActivationId=gone["ActivationId"])
    with pytest.raises(SandboxError) as err:
        reg(
            activation_id=gone["ActivationId"],
            activation_code=gone["ActivationCode"],
            cluster="edge",
        )
    assert err.value.payload["error"] == "InvalidActivation"


def test_deregister_managed_instance_deregisters_container_instance(aws, sandbox):
    """DeregisterManagedInstance removes the mi- instance; the machine's container
    instance goes INACTIVE and leaves ListContainerInstances."""
    (out,) = activate_and_register(aws, sandbox, n=1)
    ssm, ecs = aws("ssm"), aws("ecs")
    ssm.deregister_managed_instance(InstanceId=out["instanceId"])
    assert ssm.describe_instance_information()["InstanceInformationList"] == []
    ci = ecs.describe_container_instances(
        cluster="edge", containerInstances=[out["containerInstanceArn"]]
    )["containerInstances"][0]
    assert ci["status"] == "INACTIVE"
    assert ecs.list_container_instances(cluster="edge")["containerInstanceArns"] == []
    with pytest.raises(ClientError) as err:
        ssm.deregister_managed_instance(InstanceId=out["instanceId"])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"


@pytest.mark.parametrize("mode", ["bridge", "host", "none"])
def test_external_task_definition_keeps_network_mode(aws, sandbox, mode):
    """Task definitions for EXTERNAL keep bridge/host/none (no awsvpc on ECS Anywhere).
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-anywhere.html"""
    td = external_task_definition(aws("ecs"), network_mode=mode)
    assert td["networkMode"] == mode
    assert "EXTERNAL" in td["compatibilities"]
    assert td["requiresCompatibilities"] == ["EXTERNAL"]


def test_attributes_tags_state_and_agent(aws, sandbox):
    """PutAttributes by container-instance ARN, TagResource on container instances,
    UpdateContainerInstancesState DRAINING/ACTIVE, and the agent flipping to
    disconnected (control endpoint) show up in DescribeContainerInstances."""
    (out,) = activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    arn = out["containerInstanceArn"]
    ecs.put_attributes(
        cluster="edge", attributes=[{"name": "site", "value": "lyon", "targetId": arn}]
    )
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "rack", "value": "r2"}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "rack", "value": "r2"}]
    got = ecs.update_container_instances_state(
        cluster="edge", containerInstances=[arn], status="DRAINING"
    )
    assert got["containerInstances"][0]["status"] == "DRAINING"
    sandbox.client.set_agent_connected(False, ec2_instance_id=out["instanceId"])
    ci = ecs.describe_container_instances(
        cluster="edge", containerInstances=[arn], include=["TAGS"]
    )["containerInstances"][0]
    assert {"name": "site", "value": "lyon"} in ci["attributes"]
    assert ci["tags"] == [{"key": "rack", "value": "r2"}]
    assert ci["status"] == "DRAINING" and ci["agentConnected"] is False
    info = aws("ssm").describe_instance_information()["InstanceInformationList"][0]
    assert info["PingStatus"] == "ConnectionLost"
    ecs.update_container_instances_state(cluster="edge", containerInstances=[arn], status="ACTIVE")
    sandbox.client.set_agent_connected(True, container_instance_arn=arn)
    ci = ecs.describe_container_instances(cluster="edge", containerInstances=[arn])[
        "containerInstances"
    ][0]
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is True


def test_run_task_external_uses_instance_resources(aws, sandbox):
    """RunTask with launchType EXTERNAL places on an external instance and the
    instance's remainingResources drop by the task definition's CPU and memory."""
    (out,) = activate_and_register(aws, sandbox, n=1)
    ecs = aws("ecs")
    external_task_definition(ecs, cpu=512, memory=1024)
    task = ecs.run_task(cluster="edge", taskDefinition="web", launchType="EXTERNAL")["tasks"][0]
    assert task["launchType"] == "EXTERNAL"
    assert task["containerInstanceArn"] == out["containerInstanceArn"]
    assert task["lastStatus"] == "PENDING"
    ci = ecs.describe_container_instances(
        cluster="edge", containerInstances=[out["containerInstanceArn"]]
    )["containerInstances"][0]
    rem = {r["name"]: r["integerValue"] for r in ci["remainingResources"] if r["type"] == "INTEGER"}
    assert rem == {"CPU": 1536, "MEMORY": 3072}
    assert ci["pendingTasksCount"] == 1


def test_cli_register_instance(aws, sandbox):
    """`python -m sandbox register-instance` prints the mi- id and container-instance ARN."""
    ssm = aws("ssm")
    aws("ecs").create_cluster(clusterName="edge")
    act = ssm.create_activation(IamRole="r")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "register-instance",
            "--endpoint-url",
            sandbox.url,
            "--activation-id",
            act["ActivationId"],
            "--activation-code",
            act["ActivationCode"],
            "--cluster",
            "edge",
            "--hostname",
            "plc-1",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    mid, arn = proc.stdout.split()
    assert mid.startswith("mi-") and ":container-instance/edge/" in arn
