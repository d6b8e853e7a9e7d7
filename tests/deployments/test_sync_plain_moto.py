"""The mirror against plain, unextended moto (EC2-launch clusters only).

Guards against coding to our own emulator: no sandbox extension is loaded here.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, ContainerInstance, SyncRun
from deployments.models import Service, Task, TaskContainer, TaskDefinition
from deployments.sync import account_sync
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto drifts tasks towards STOPPED on every describe unless told not to.
    requests.post(
        f"{url}/moto-api/state-manager/set-transition",
        json={"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**9}},
        timeout=10,
    ).raise_for_status()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def ec2_cluster(moto_url: str) -> str:
    ec2, ecs = boto("ec2", moto_url), boto("ecs", moto_url)
    ecs.create_cluster(clusterName="plain")
    for _ in range(4):
        inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
        doc = {
            "availabilityZone": inst["Placement"]["AvailabilityZone"],
            "privateIp": inst["PrivateIpAddress"],
            "region": "us-east-1",
            "instanceId": inst["InstanceId"],
            "instanceType": inst["InstanceType"],
            "imageId": inst["ImageId"],
            "accountId": "123456789012",
            "version": "2010-8-31",
            "architecture": "x86_64",
        }
        ecs.register_container_instance(cluster="plain", instanceIdentityDocument=json.dumps(doc))
    ecs.register_task_definition(
        family="web",
        containerDefinitions=[
            {
                "name": "web",
                "image": "nginx:1.27",
                "cpu": 64,
                "memory": 64,
                "essential": True,
                # What a diff between revisions reads (deployments/revisions).
                "command": ["nginx", "-g", "daemon off;"],
                "entryPoint": ["/docker-entrypoint.sh"],
                "environment": [{"name": "MODE", "value": "plain"}],
                "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}],
                "healthCheck": {"command": ["CMD", "true"], "interval": 10, "retries": 2},
                "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "1m"}},
                "stopTimeout": 20,
                "workingDirectory": "/srv",
                "user": "101",
                "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
            }
        ],
    )
    ecs.create_service(
        cluster="plain", serviceName="web", taskDefinition="web", desiredCount=2, launchType="EC2"
    )
    for _ in range(3):
        ecs.run_task(cluster="plain", taskDefinition="web", count=10, launchType="EC2")
    return "plain"


def test_ec2_cluster_mirrors_exactly_against_plain_moto(moto_url: str, ec2_cluster: str) -> None:
    clients_forget()
    account = AwsAccount.objects.create(
        name="moto", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=moto_url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    assert account.__class__.objects.get(pk=account.pk).account_id == "123456789012"
    # moto answers every listing in one page; the sync still makes only the minimum
    assert run.calls == {
        "GetCallerIdentity": 1,
        "ListClusters": 1,
        "DescribeClusters": 1,
        "ListContainerInstances": 1,
        "DescribeContainerInstances": 1,
        "ListServices": 1,
        "DescribeServices": 1,
        "DescribeTaskDefinition": 1,
        "ListTasks": 2,
        "DescribeTasks": 1,
        # moto has no deployment history API: one try, recorded, the sync carries on
        "ListServiceDeployments": 1,
    }
    cluster_run = SyncRun.objects.filter(cluster__name="plain").latest("pk")
    assert cluster_run.status == "succeeded"
    assert any("ListServiceDeployments" in e for e in cluster_run.errors)

    ecs = boto("ecs", moto_url)
    ci_arns = ecs.list_container_instances(cluster="plain")["containerInstanceArns"]
    truth_ci = ecs.describe_container_instances(cluster="plain", containerInstances=ci_arns)
    assert ContainerInstance.objects.filter(gone_at__isnull=True).count() == 4
    for d in truth_ci["containerInstances"]:
        ci = ContainerInstance.objects.get(arn=d["containerInstanceArn"])
        assert ci.ec2_instance_id == d["ec2InstanceId"] and ci.ec2_instance_id.startswith("i-")
        assert not ci.is_external
        assert ci.status == d["status"] and ci.agent_connected == d["agentConnected"]
        res = {r["name"]: r.get("integerValue") for r in d["registeredResources"]}
        rem = {r["name"]: r.get("integerValue") for r in d["remainingResources"]}
        assert (ci.registered_cpu, ci.registered_memory) == (res["CPU"], res["MEMORY"])
        assert (ci.remaining_cpu, ci.remaining_memory) == (rem["CPU"], rem["MEMORY"])
        assert ci.running_tasks_count == d["runningTasksCount"]

    svc = ecs.describe_services(cluster="plain", services=["web"])["services"][0]
    mirrored = Service.objects.get(arn=svc["serviceArn"])
    assert (mirrored.desired_count, mirrored.running_count) == (
        svc["desiredCount"],
        svc["runningCount"],
    )
    assert mirrored.launch_type == "EC2" and mirrored.status == svc["status"]

    task_arns = ecs.list_tasks(cluster="plain")["taskArns"]
    assert len(task_arns) == 30
    truth = ecs.describe_tasks(cluster="plain", tasks=task_arns)["tasks"]
    assert Task.objects.count() == 30
    for d in truth:
        t = Task.objects.select_related("container_instance", "task_definition").get(
            arn=d["taskArn"]
        )
        assert t.last_status == d["lastStatus"] == "RUNNING"
        assert t.desired_status == d["desiredStatus"]
        assert t.group == d.get("group", "") and t.started_by == d.get("startedBy", "")
        assert t.container_instance is not None
        assert t.container_instance.arn == d["containerInstanceArn"]
        assert t.task_definition is not None and t.task_definition.arn == d["taskDefinitionArn"]
        assert t.created_at_aws == d.get("createdAt")
        names = set(TaskContainer.objects.filter(task=t).values_list("name", flat=True))
        assert names == {c["name"] for c in d["containers"]}

    # the task definition: every container field the diff reads, as moto describes it
    td = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    (container,) = TaskDefinition.objects.get(arn=td["taskDefinitionArn"]).containers
    (truth_c,) = td["containerDefinitions"]
    for key in ("command", "entryPoint", "environment", "secrets", "healthCheck", "stopTimeout"):
        assert container[key] == truth_c[key], key
    for key in ("workingDirectory", "user", "ulimits", "logConfiguration"):
        assert container[key] == truth_c[key], key

    # nothing changed: the second sync writes nothing
    again = account_sync(account_id=account.pk)
    assert again is not None and again.status == "succeeded"
    assert (again.created_count, again.updated_count, again.gone_count) == (0, 0, 0)
