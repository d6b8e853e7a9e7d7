"""Service networking mirrored as DescribeServices / DescribeClusters return it: load
balancers, Cloud Map registries, capacity providers, Service Connect (the PRIMARY
deployment's, where ECS returns it) and the cluster's Service Connect default; a task
definition's volumes with their kind. What the EXTERNAL check and the service map read."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount, Cluster
from deployments.models import Service
from deployments.sync import account_sync
from tests.ecs_seed import boto
from tests.sandbox.helpers import activate_and_register

pytestmark = pytest.mark.django_db

NAMESPACE = "arn:aws:servicediscovery:us-east-1:123456789012:namespace/ns-shop"
CONNECT = {
    "enabled": True,
    "namespace": NAMESPACE,
    "services": [
        {
            "portName": "http",
            "discoveryName": "web",
            "clientAliases": [{"port": 80, "dnsName": "web.shop"}],
        }
    ],
}
REGISTRY = {"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-web"}


def _aws(sandbox: Any) -> Any:
    def make(service: str, region: str = "us-east-1", retries: bool = False) -> Any:
        return boto(service, sandbox.url)

    return make


def test_networking_and_volumes_are_mirrored(sandbox: Any) -> None:
    ecs = boto("ecs", sandbox.url)
    activate_and_register(_aws(sandbox), sandbox, n=1)
    ecs.update_cluster(cluster="edge", serviceConnectDefaults={"namespace": NAMESPACE})
    ecs.register_task_definition(
        family="web",
        networkMode="bridge",
        requiresCompatibilities=["EC2", "EXTERNAL"],
        containerDefinitions=[
            {
                "name": "web",
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": 80, "name": "http"}],
            }
        ],
        volumes=[{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
    )
    ecs.create_service(
        cluster="edge",
        serviceName="web",
        taskDefinition="web",
        desiredCount=0,
        launchType="EXTERNAL",
        serviceRegistries=[REGISTRY],
        serviceConnectConfiguration=CONNECT,
    )
    clients_forget()
    account = AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None

    service = Service.objects.get(name="web")
    assert service.service_registries == [REGISTRY]
    assert service.service_connect_configuration == CONNECT
    assert service.load_balancers == [] and service.capacity_provider_strategy == []
    assert service.task_definition is not None
    [volume] = service.task_definition.volumes
    assert volume["name"] == "data" and volume["type"] == "efs"
    assert volume["config"]["fileSystemId"] == "fs-1"
    assert Cluster.objects.get(name="edge").service_connect_defaults == {"namespace": NAMESPACE}

    # Service Connect changed by UpdateService: ECS rolls out a new deployment with it,
    # and the next sync mirrors the new PRIMARY's configuration.
    ecs.update_service(
        cluster="edge", service="web", serviceConnectConfiguration={"enabled": False}
    )
    assert (
        len(ecs.describe_services(cluster="edge", services=["web"])["services"][0]["deployments"])
        == 2
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded"
    service.refresh_from_db()
    assert service.service_connect_configuration == {"enabled": False}
