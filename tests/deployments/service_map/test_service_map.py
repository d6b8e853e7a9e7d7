"""The service map against the sandbox: each logical name with its provider, clients and
Cloud Map instance health exactly as configured through boto3; the misconfigured
external service flagged on the map and on its page; Cloud Map listed at the minimum."""

from __future__ import annotations

from typing import Any

import pytest

from clusters.models import Cluster
from deployments.diagnosis import external_unsupported
from deployments.models import CloudMapInstance, CloudMapNamespace, CloudMapService, Service
from deployments.service_map import service_map, service_networking_flags
from deployments.service_map.cloudmap_sync import cloudmap_catalog_sync, cloudmap_instances_sync
from tests.deployments.service_map.fleet import networking_fleet
from tests.ecs_seed import boto

pytestmark = pytest.mark.django_db


def _names(smap: Any) -> dict[str, Any]:
    return {n.label: n for n in smap.names}


def test_the_map_lists_each_name_with_provider_clients_and_health(sandbox: Any) -> None:
    fleet = networking_fleet(sandbox)
    cloudmap_instances_sync(account_id=fleet.account.pk, region="us-east-1")
    shop = Cluster.objects.get(name="shop-ec2")
    smap = service_map(cluster=shop)
    assert smap.namespace_key == fleet.shop_id and smap.namespace_label == "shop"
    by_pk = {pk: e.service.name for pk, e in smap.services.items()}
    names = _names(smap)
    assert sorted(names) == ["api", "web"]
    web, api = names["web"], names["api"]
    assert [by_pk[pk] for pk in web.providers] == ["web"]
    assert sorted(by_pk[pk] for pk in web.clients) == ["api", "worker"]
    assert [by_pk[pk] for pk in api.providers] == ["api"]
    assert sorted(by_pk[pk] for pk in api.clients) == ["web", "worker"]
    assert web.endpoints == ["web.shop:80"] and api.endpoints == ["api.shop:8080"]
    assert (web.healthy, web.unhealthy, web.flag) == (3, 0, None)
    assert (api.healthy, api.unhealthy, api.flag) == (1, 1, None)
    roles = {e.service.name: (e.is_client, e.is_provider) for e in smap.services.values()}
    assert roles == {"web": (True, True), "api": (True, True), "worker": (True, False)}
    assert smap.flags == []


def test_the_external_service_with_service_discovery_is_flagged(sandbox: Any) -> None:
    fleet = networking_fleet(sandbox)
    cloudmap_instances_sync(account_id=fleet.account.pk, region="us-east-1")
    smap = service_map(cluster=Cluster.objects.get(name="edge"))
    assert smap.namespace_key == fleet.edge_id
    [name] = smap.names
    assert name.label == "metrics.edge.internal" and name.kind == "discovery"
    assert name.flag == "metrics.edge.internal: no instance registered in Cloud Map."
    [entry] = smap.services.values()
    assert entry.service.name == "metrics" and entry.is_provider
    external, srv = entry.flags
    assert "service discovery is not supported on external instances" in external
    assert "A records" in srv and "bridge network mode needs SRV" in srv
    metrics = Service.objects.get(name="metrics")
    # The page shows the map's own flags; the external one is the EXTERNAL check's
    # finding, which the page shows in its own card (one truth, one wording).
    assert service_networking_flags(service=metrics) == [srv, name.flag]
    findings = external_unsupported(service=metrics)
    assert "external-service-discovery" in {f.code for f in findings}
    assert all(f"{f.setting}: {f.message}" in external for f in findings if "discovery" in f.code)
    # The EC2 services of the shop are not flagged on their page.
    assert service_networking_flags(service=Service.objects.get(name="web")) == []


def test_cloudmap_sync_makes_the_minimum_calls(sandbox: Any) -> None:
    fleet = networking_fleet(sandbox)
    account_id = fleet.account.pk
    sandbox.client.reset_request_counts()
    first = cloudmap_instances_sync(account_id=account_id, region="us-east-1")
    counts = sandbox.client.request_counts()
    # Never listed: the catalogue once (services per namespace: shop, edge.internal,
    # unused); then instances only for the namespaces in use (shop: web, api;
    # edge.internal: metrics), not for "unused"; health only where there are instances.
    assert counts == {
        "servicediscovery:ListNamespaces": 1,
        "servicediscovery:ListServices": 3,
        "servicediscovery:ListInstances": 3,
        "servicediscovery:GetInstancesHealthStatus": 2,
    }, counts
    assert first is not None and first.created == 3 + 4 + 5
    assert not CloudMapInstance.objects.filter(service__service_id=fleet.services["idle"]).exists()

    sandbox.client.reset_request_counts()
    second = cloudmap_instances_sync(account_id=account_id, region="us-east-1")
    counts = sandbox.client.request_counts()
    assert "servicediscovery:ListServices" not in counts
    assert "servicediscovery:ListNamespaces" not in counts
    assert counts["servicediscovery:ListInstances"] == 3
    assert second is not None and second.writes == 0  # nothing changed, nothing written

    # An instance deregistered and one turned unhealthy: only those rows change.
    sd = boto("servicediscovery", sandbox.url)
    sd.deregister_instance(ServiceId=fleet.services["web"], InstanceId="web-2")
    sd.update_instance_custom_health_status(
        ServiceId=fleet.services["web"], InstanceId="web-0", Status="UNHEALTHY"
    )
    third = cloudmap_instances_sync(account_id=account_id, region="us-east-1")
    assert third is not None and (third.updated, third.gone, third.created) == (1, 1, 0)
    assert CloudMapInstance.objects.get(instance_id="web-2").gone_at is not None
    assert CloudMapInstance.objects.get(instance_id="web-0").health == "UNHEALTHY"

    # The slow schedule lists the catalogue again; a vanished namespace is marked gone.
    sd.delete_service(Id=fleet.services["idle"])
    sd.delete_namespace(Id=fleet.unused_id)
    sandbox.client.reset_request_counts()
    catalog = cloudmap_catalog_sync(account_id=account_id, region="us-east-1")
    assert sandbox.client.request_counts() == {
        "servicediscovery:ListNamespaces": 1,
        "servicediscovery:ListServices": 2,
    }
    assert catalog is not None and catalog.gone == 2 and catalog.writes == 2
    assert CloudMapNamespace.objects.get(namespace_id=fleet.unused_id).gone_at is not None
    assert CloudMapService.objects.get(service_id=fleet.services["idle"]).gone_at is not None


def test_a_failed_listing_forgets_nothing(sandbox: Any) -> None:
    from clusters.aws.errors import AwsError

    fleet = networking_fleet(sandbox)
    cloudmap_instances_sync(account_id=fleet.account.pk, region="us-east-1")
    sandbox.client.set_faults(
        [{"service": "servicediscovery", "operation": "ListServices", "fault": "error500"}]
    )
    try:
        with pytest.raises(AwsError):
            cloudmap_catalog_sync(account_id=fleet.account.pk, region="us-east-1")
    finally:
        sandbox.client.clear_faults()
    assert not CloudMapService.objects.filter(gone_at__isnull=False).exists()
    assert not CloudMapNamespace.objects.filter(gone_at__isnull=False).exists()


def test_a_capacity_provider_service_is_external_when_its_tasks_are(sandbox: Any) -> None:
    """No launch type (a capacity-provider strategy): external when a live task runs on
    an mi- instance; the map and the page agree."""
    from clusters.models import ContainerInstance
    from deployments.models import Task

    fleet = networking_fleet(sandbox)
    cloudmap_instances_sync(account_id=fleet.account.pk, region="us-east-1")
    metrics = Service.objects.select_related("cluster", "task_definition").get(name="metrics")
    Service.objects.filter(pk=metrics.pk).update(launch_type="")
    metrics.launch_type = ""
    assert external_unsupported(service=metrics) == []
    instance = ContainerInstance.objects.get(cluster=metrics.cluster, is_external=True)
    Task.objects.create(
        arn="arn:aws:ecs:us-east-1:1:task/edge/t1",
        cluster=metrics.cluster,
        service=metrics,
        container_instance=instance,
        last_status="RUNNING",
    )
    # The map and the page agree: both ask the one EXTERNAL check.
    findings = external_unsupported(service=metrics)
    assert "external-service-discovery" in {f.code for f in findings}
    [entry] = service_map(cluster=metrics.cluster).services.values()
    assert any("not supported on external instances" in f for f in entry.flags)
