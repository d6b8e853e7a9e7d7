"""The demo fleet's service networking, written in-process into moto's ECS and Cloud Map
(``servicediscovery``) backends.

- ``shop.local`` (an HTTP namespace, what Service Connect uses): ``web`` and ``api`` on
  prod-ec2 (EC2 instances) each offer a logical name; ``worker`` is a client only. As ECS
  does for Service Connect, each offered name is a Cloud Map service of that name and
  each running task of the offering service is an instance in it (attributes
  ``AWS_INSTANCE_IPV4``, ``AWS_INSTANCE_PORT``, ``ECS_CLUSTER_NAME``,
  ``ECS_SERVICE_NAME``). One ``api`` instance reports UNHEALTHY.
- ``edge.internal`` (a private DNS namespace): the external ``metrics`` service has a
  service registry whose Cloud Map service has A records, although its tasks run in
  bridge mode on external instances: ECS Anywhere supports no service discovery (and
  bridge needs SRV). ECS never registers such tasks, so the name has no instance.

Registration happens once, at seed time: the sandbox does not follow later task churn
into Cloud Map (docs/sandbox.md).
"""

from __future__ import annotations

from typing import Any

from moto.servicediscovery.models import ServiceDiscoveryBackend, servicediscovery_backends

from sandbox import ecs_api
from sandbox.ecs_model import cluster_tasks
from sandbox.state import ACCOUNT_ID

REGION = "us-east-1"
SHOP = "shop.local"
EDGE = "edge.internal"
CUSTOM_HEALTH = {"FailureThreshold": 1}


def _namespace(sd: ServiceDiscoveryBackend, name: str) -> Any:
    return next(n for n in sd.namespaces.values() if n.name == name)


def _offer(discovery: str, port: int) -> dict[str, Any]:
    return {
        "portName": "http",
        "discoveryName": discovery,
        "clientAliases": [{"port": port, "dnsName": f"{discovery}.{SHOP}"}],
    }


def _connect(ecs: Any, name: str, config: dict[str, Any]) -> None:
    """CreateService's serviceConnectConfiguration: kept on the service and carried by
    every deployment (the current ones included)."""
    svc = ecs_api.find_service(ecs, "prod-ec2", name)
    assert svc is not None
    svc.service_connect_configuration = config
    for deployment in svc.deployments:
        deployment.service_connect_configuration = config


def _register_tasks(ecs: Any, sd: ServiceDiscoveryBackend, cm: Any, name: str, port: int) -> None:
    tasks = [t for t in cluster_tasks(ecs, "prod-ec2") if t.group == f"service:{name}" and t.live]
    for i, task in enumerate(tasks):
        sd.register_instance(
            service_id=cm.id,
            instance_id=task.id,
            creator_request_id=task.id,
            attributes={
                "AWS_INSTANCE_IPV4": f"10.0.{1 + i}.{10 + port % 50}",
                "AWS_INSTANCE_PORT": str(port),
                "ECS_CLUSTER_NAME": "prod-ec2",
                "ECS_SERVICE_NAME": name,
            },
        )


def seed_service_networking(ecs: Any) -> dict[str, str]:
    """Namespaces, Cloud Map services and registrations of the demo (us-east-1)."""
    sd = servicediscovery_backends[ACCOUNT_ID][REGION]
    sd.create_http_namespace(SHOP, "demo-shop", "Service Connect namespace of the shop", [])
    shop = _namespace(sd, SHOP)
    _connect(ecs, "web", {"enabled": True, "namespace": shop.arn, "services": [_offer("web", 80)]})
    _connect(
        ecs, "api", {"enabled": True, "namespace": shop.arn, "services": [_offer("api", 8080)]}
    )
    _connect(ecs, "worker", {"enabled": True, "namespace": shop.arn})
    for name, port in (("web", 80), ("api", 8080)):
        cm = sd.create_service(name, shop.id, f"sc-{name}", "", {}, {}, CUSTOM_HEALTH, [], "HTTP")
        _register_tasks(ecs, sd, cm, name, port)
        if name == "api" and cm.instances:
            sd.update_instance_custom_health_status(cm.id, cm.instances[0].instance_id, "UNHEALTHY")
    sd.create_private_dns_namespace(EDGE, "demo-edge", "edge discovery", "vpc-0edge", [], {})
    edge = _namespace(sd, EDGE)
    records = {"NamespaceId": edge.id, "DnsRecords": [{"Type": "A", "TTL": 10}]}
    metrics = sd.create_service(
        "metrics", edge.id, "sd-metrics", "", records, {}, CUSTOM_HEALTH, [], "DNS_HTTP"
    )
    svc = ecs_api.find_service(ecs, "onprem-edge", "metrics")
    assert svc is not None
    svc.service_registries = [{"registryArn": metrics.arn}]
    return {"shop": shop.arn, "edge": edge.arn}
