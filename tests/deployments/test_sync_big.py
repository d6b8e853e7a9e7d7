"""The big mirror test: 1,050 tasks, 25 services, 150 external instances."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster, ContainerInstance
from deployments.models import Deployment, Service, Task, TaskContainer, TaskDefinition
from deployments.sync import account_sync
from tests.ecs_seed import boto, seed_external_fleet

pytestmark = pytest.mark.django_db

N_INSTANCES, N_SERVICES, PER_SERVICE = 150, 25, 42
N_TASKS = N_SERVICES * PER_SERVICE


@pytest.fixture(scope="module")
def big_fleet(sandbox_server: Any) -> Any:
    sandbox_server.client.reset()
    seed_external_fleet(
        sandbox_server,
        cluster="big",
        instances=N_INSTANCES,
        services=N_SERVICES,
        tasks_per_service=PER_SERVICE,
    )
    return sandbox_server


@pytest.fixture
def account(big_fleet: Any) -> AwsAccount:
    clients_forget()
    return AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=big_fleet.url
    )


def _minimum_calls(n_tds: int) -> dict[str, int]:
    pages = lambda n: max(1, math.ceil(n / 100))  # noqa: E731
    return {
        "sts:GetCallerIdentity": 1,
        "ecs:ListClusters": 1,
        "ecs:DescribeClusters": 1,
        "ecs:ListContainerInstances": pages(N_INSTANCES),
        "ecs:DescribeContainerInstances": pages(N_INSTANCES),
        "ecs:ListServices": pages(N_SERVICES),
        "ecs:DescribeServices": math.ceil(N_SERVICES / 10),
        "ecs:DescribeTaskDefinition": n_tds,
        # RUNNING listing pages + one (empty) STOPPED listing page
        "ecs:ListTasks": pages(N_TASKS) + 1,
        "ecs:DescribeTasks": pages(N_TASKS),
        # The deployment history, on a first sync only (each service was never listed):
        # one listing a service, its one deployment and one revision described 20 a call.
        "ecs:ListServiceDeployments": N_SERVICES,
        "ecs:DescribeServiceDeployments": math.ceil(N_SERVICES / 20),
        "ecs:DescribeServiceRevisions": math.ceil(N_SERVICES / 20),
    }


def _boto_truth(url: str) -> dict[str, Any]:
    ecs = boto("ecs", url)
    ci_arns: list[str] = []
    for page in ecs.get_paginator("list_container_instances").paginate(cluster="big"):
        ci_arns += page["containerInstanceArns"]
    cis = []
    for i in range(0, len(ci_arns), 100):
        cis += ecs.describe_container_instances(
            cluster="big", containerInstances=ci_arns[i : i + 100], include=["TAGS"]
        )["containerInstances"]
    svc_arns: list[str] = []
    for page in ecs.get_paginator("list_services").paginate(cluster="big"):
        svc_arns += page["serviceArns"]
    svcs = []
    for i in range(0, len(svc_arns), 10):
        svcs += ecs.describe_services(cluster="big", services=svc_arns[i : i + 10])["services"]
    task_arns: list[str] = []
    for page in ecs.get_paginator("list_tasks").paginate(cluster="big"):
        task_arns += page["taskArns"]
    tasks = []
    for i in range(0, len(task_arns), 100):
        tasks += ecs.describe_tasks(cluster="big", tasks=task_arns[i : i + 100])["tasks"]
    return {"instances": cis, "services": svcs, "tasks": tasks}


def test_big_cluster_mirrors_exactly_in_minimum_calls_and_resync_writes_nothing(
    account: AwsAccount, big_fleet: Any
) -> None:
    big_fleet.client.reset_request_counts()
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    counts = big_fleet.client.request_counts()
    n_tds = TaskDefinition.objects.count()
    assert n_tds == 5
    assert counts == _minimum_calls(n_tds)

    truth = _boto_truth(big_fleet.url)
    cluster = Cluster.objects.get(name="big")
    assert cluster.running_tasks_count == N_TASKS
    # container instances: every mirrored field equals what boto3 returns
    assert ContainerInstance.objects.filter(cluster=cluster).count() == N_INSTANCES
    mirrored_ci = {ci.arn: ci for ci in ContainerInstance.objects.all()}
    for d in truth["instances"]:
        ci = mirrored_ci[d["containerInstanceArn"]]
        res = {r["name"]: r.get("integerValue") for r in d["registeredResources"]}
        rem = {r["name"]: r.get("integerValue") for r in d["remainingResources"]}
        assert ci.ec2_instance_id == d["ec2InstanceId"] and ci.ec2_instance_id.startswith("mi-")
        assert ci.is_external
        assert ci.status == d["status"]
        assert ci.agent_connected == d["agentConnected"]
        assert ci.agent_version == d["versionInfo"]["agentVersion"]
        assert ci.docker_version == d["versionInfo"]["dockerVersion"]
        assert (ci.registered_cpu, ci.registered_memory) == (res["CPU"], res["MEMORY"])
        assert (ci.remaining_cpu, ci.remaining_memory) == (rem["CPU"], rem["MEMORY"])
        assert ci.attributes == {a["name"]: a.get("value", "") for a in d["attributes"]}
        assert ci.tags == {t["key"]: t["value"] for t in d.get("tags", [])}
        assert ci.running_tasks_count == d["runningTasksCount"]
        assert ci.pending_tasks_count == d["pendingTasksCount"]
        assert ci.registered_at == d["registeredAt"]
    # services and deployments
    mirrored_svc = {s.arn: s for s in Service.objects.select_related("task_definition")}
    assert len(mirrored_svc) == N_SERVICES
    for d in truth["services"]:
        s = mirrored_svc[d["serviceArn"]]
        assert (s.name, s.status) == (d["serviceName"], d["status"])
        assert (s.desired_count, s.running_count, s.pending_count) == (
            d["desiredCount"],
            d["runningCount"],
            d["pendingCount"],
        )
        assert s.launch_type == d["launchType"] == "EXTERNAL"
        assert s.scheduling_strategy == d["schedulingStrategy"]
        conf = d["deploymentConfiguration"]
        assert s.deployment_configuration["maximumPercent"] == conf["maximumPercent"]
        assert s.deployment_configuration["minimumHealthyPercent"] == conf["minimumHealthyPercent"]
        assert s.deployment_configuration["deploymentCircuitBreaker"] == {
            "enable": True,
            "rollback": True,
        }
        assert s.task_definition is not None and s.task_definition.arn == d["taskDefinition"]
        for dep in d["deployments"]:
            row = Deployment.objects.get(deployment_id=dep["id"])
            assert row.service_id == s.pk
            assert (row.status, row.rollout_state) == (dep["status"], dep.get("rolloutState", ""))
            assert (row.desired_count, row.running_count, row.pending_count) == (
                dep["desiredCount"],
                dep["runningCount"],
                dep["pendingCount"],
            )
            assert row.failed_tasks == dep.get("failedTasks", 0)
            assert row.created_at_aws == dep["createdAt"]
            assert row.updated_at_aws == dep["updatedAt"]
    # tasks and their containers
    assert Task.objects.count() == N_TASKS
    assert TaskContainer.objects.count() == N_TASKS * 2
    mirrored = {
        t.arn: t
        for t in Task.objects.select_related("container_instance", "task_definition", "service")
    }
    containers: dict[tuple[int, str], TaskContainer] = {
        (c.task_id, c.name): c for c in TaskContainer.objects.all()
    }
    for d in truth["tasks"]:
        t = mirrored[d["taskArn"]]
        assert t.container_instance is not None
        assert t.container_instance.arn == d["containerInstanceArn"]
        assert t.task_definition is not None and t.task_definition.arn == d["taskDefinitionArn"]
        assert t.service is not None and f"service:{t.service.name}" == d["group"]
        assert (t.group, t.started_by) == (d["group"], d.get("startedBy", ""))
        assert (t.last_status, t.desired_status) == (d["lastStatus"], d["desiredStatus"])
        assert t.health_status == d.get("healthStatus", "")
        assert t.launch_type == d["launchType"]
        assert t.stopped_reason == d.get("stoppedReason", "")
        assert t.stop_code == d.get("stopCode", "")
        assert t.created_at_aws == d["createdAt"]
        assert t.started_at == d.get("startedAt")
        assert t.stopped_at == d.get("stoppedAt")
        for c in d["containers"]:
            tc = containers[(t.pk, c["name"])]
            assert (tc.image, tc.last_status) == (c["image"], c["lastStatus"])
            assert tc.exit_code == c.get("exitCode")
            assert tc.reason == c.get("reason", "")
    # task definitions: containers with image/cpu/memory/ports
    td = TaskDefinition.objects.get(family="app0")
    assert td.compatibilities == ["EC2", "EXTERNAL"]
    assert td.network_mode == "bridge"
    assert td.containers[0]["image"] == "example/app0:1.0"
    assert td.containers[0]["portMappings"][0]["containerPort"] == 8080

    # A second sync with nothing changed: no mirror row is inserted or updated,
    # and the call count is again the minimum (task definitions are not re-described).
    big_fleet.client.reset_request_counts()
    mirror_tables = (
        "deployments_",
        "clusters_containerinstance",
        "clusters_event",
    )
    with CaptureQueriesContext(connection) as ctx:
        run2 = account_sync(account_id=account.pk)
    assert run2 is not None and run2.status == "succeeded"
    assert (run2.created_count, run2.updated_count, run2.gone_count) == (0, 0, 0)
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and any(t in q["sql"] for t in mirror_tables)
    ]
    assert writes == []
    second = _minimum_calls(0)
    del second["sts:GetCallerIdentity"], second["ecs:DescribeTaskDefinition"]
    # nothing changed in DescribeServices' deployments: no history call at all
    del second["ecs:ListServiceDeployments"], second["ecs:DescribeServiceDeployments"]
    del second["ecs:DescribeServiceRevisions"]
    assert big_fleet.client.request_counts() == second
    assert run2.calls == {k.split(":", 1)[1]: v for k, v in second.items()}
