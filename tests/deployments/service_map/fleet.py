"""A small fleet with service networking, configured through boto3 against the sandbox
as an operator would: a Service Connect namespace with two providers and a client-only
service on an EC2 cluster, and an external service misconfigured with service discovery
(A records, bridge mode, external instances)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusters.aws.session import clients_forget
from clusters.models import AwsAccount
from deployments.sync import account_sync
from tests.ecs_seed import boto
from tests.sandbox.helpers import activate_and_register


@dataclass
class Fleet:
    account: AwsAccount
    shop_arn: str
    shop_id: str
    edge_id: str
    unused_id: str
    services: dict[str, str]  # Cloud Map service name -> id


def _aws(sandbox: Any) -> Any:
    return lambda service, region="us-east-1", retries=False: boto(service, sandbox.url, region)


def _td(ecs: Any, family: str, port: int, compat: str) -> None:
    ecs.register_task_definition(
        family=family,
        networkMode="bridge",
        requiresCompatibilities=[compat],
        containerDefinitions=[
            {
                "name": family,
                "image": "busybox",
                "memory": 64,
                "portMappings": [{"containerPort": port, "name": "http"}],
            }
        ],
    )


def _offer(name: str, port: int) -> dict[str, Any]:
    return {
        "portName": "http",
        "discoveryName": name,
        "clientAliases": [{"port": port, "dnsName": f"{name}.shop"}],
    }


def _cloudmap(sd: Any) -> tuple[str, str, str, dict[str, str]]:
    sd.create_http_namespace(Name="shop")
    sd.create_private_dns_namespace(Name="edge.internal", Vpc="vpc-1")
    sd.create_http_namespace(Name="unused")
    ns = {n["Name"]: n for n in sd.list_namespaces()["Namespaces"]}
    custom = {"FailureThreshold": 1}
    ids = {}
    for name in ("web", "api"):
        ids[name] = sd.create_service(
            Name=name, NamespaceId=ns["shop"]["Id"], HealthCheckCustomConfig=custom
        )["Service"]["Id"]
    ids["metrics"] = sd.create_service(
        Name="metrics",
        NamespaceId=ns["edge.internal"]["Id"],
        DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}]},
        HealthCheckCustomConfig=custom,
    )["Service"]["Id"]
    ids["idle"] = sd.create_service(Name="idle", NamespaceId=ns["unused"]["Id"])["Service"]["Id"]
    for i in range(3):
        sd.register_instance(
            ServiceId=ids["web"],
            InstanceId=f"web-{i}",
            Attributes={"AWS_INSTANCE_IPV4": f"10.0.0.{i}"},
        )
    sd.register_instance(
        ServiceId=ids["api"], InstanceId="api-0", Attributes={"AWS_INSTANCE_IPV4": "10.0.1.0"}
    )
    sd.register_instance(
        ServiceId=ids["api"], InstanceId="api-1", Attributes={"AWS_INSTANCE_IPV4": "10.0.1.1"}
    )
    sd.update_instance_custom_health_status(
        ServiceId=ids["api"], InstanceId="api-1", Status="UNHEALTHY"
    )
    sd.register_instance(
        ServiceId=ids["idle"], InstanceId="idle-0", Attributes={"AWS_INSTANCE_IPV4": "10.9.9.9"}
    )
    shop = ns["shop"]
    return shop["Arn"], shop["Id"], ns["edge.internal"]["Id"], {**ids, "unused": ns["unused"]["Id"]}


def networking_fleet(sandbox: Any) -> Fleet:
    ecs, sd = boto("ecs", sandbox.url), boto("servicediscovery", sandbox.url)
    shop_arn, shop_id, edge_id, ids = _cloudmap(sd)
    ecs.create_cluster(clusterName="shop-ec2")
    for family, port in (("web", 80), ("api", 8080), ("worker", 9000)):
        _td(ecs, family, port, "EC2")
    connect = {"enabled": True, "namespace": shop_arn}
    for name, offers in (
        ("web", [_offer("web", 80)]),
        ("api", [_offer("api", 8080)]),
        ("worker", None),
    ):
        ecs.create_service(
            cluster="shop-ec2",
            serviceName=name,
            taskDefinition=name,
            desiredCount=0,
            launchType="EC2",
            serviceConnectConfiguration={**connect, **({"services": offers} if offers else {})},
        )
    activate_and_register(_aws(sandbox), sandbox, cluster="edge", n=1)
    _td(ecs, "metrics", 9100, "EXTERNAL")
    metrics_arn = sd.get_service(Id=ids["metrics"])["Service"]["Arn"]
    ecs.create_service(
        cluster="edge",
        serviceName="metrics",
        taskDefinition="metrics",
        desiredCount=0,
        launchType="EXTERNAL",
        serviceRegistries=[{"registryArn": metrics_arn}],
    )
    clients_forget()
    account = AwsAccount.objects.create(
        name="sbx", regions=["us-east-1"], auth_mode="endpoint", endpoint_url=sandbox.url
    )
    run = account_sync(account_id=account.pk)
    assert run is not None and run.status == "succeeded", run.errors if run else None
    return Fleet(account, shop_arn, shop_id, edge_id, ids.pop("unused"), ids)
