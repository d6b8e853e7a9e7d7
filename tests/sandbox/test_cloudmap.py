"""Cloud Map in the sandbox, and the demo fleet's service networking."""

from __future__ import annotations

from typing import Any


def test_list_services_honours_the_namespace_filter(aws: Any, sandbox: Any) -> None:
    """AWS: ListServices with Filters [{Name: NAMESPACE_ID, Values: [id], Condition: EQ}]
    lists only that namespace's services (moto 5.2.5 ignores Filters); the summaries
    carry no namespace id, so the filter is how a client attributes them."""
    sd = aws("servicediscovery")
    sd.create_http_namespace(Name="one")
    sd.create_http_namespace(Name="two")
    ns = {n["Name"]: n["Id"] for n in sd.list_namespaces()["Namespaces"]}
    sd.create_service(Name="a", NamespaceId=ns["one"])
    sd.create_service(Name="b", NamespaceId=ns["two"])
    sd.create_service(Name="c", NamespaceId=ns["two"])

    def names(namespace: str) -> list[str]:
        out = sd.list_services(
            Filters=[{"Name": "NAMESPACE_ID", "Values": [ns[namespace]], "Condition": "EQ"}]
        )
        return sorted(s["Name"] for s in out["Services"])

    assert names("one") == ["a"]
    assert names("two") == ["b", "c"]
    assert sorted(s["Name"] for s in sd.list_services()["Services"]) == ["a", "b", "c"]
    page = sd.list_services(MaxResults=2)
    assert len(page["Services"]) == 2 and page["NextToken"]


def test_demo_has_a_service_connect_namespace_and_a_misconfigured_external_service(
    aws: Any, sandbox: Any
) -> None:
    """The demo: shop.local with web and api offering names through Service Connect on
    EC2 (prod-ec2), worker a client only, each running task of web/api registered in
    the Cloud Map service named by its discoveryName (as ECS does); the external metrics
    service has a service registry whose Cloud Map service has A records."""
    sandbox.client.seed("demo")
    ecs, sd = aws("ecs"), aws("servicediscovery")
    ns = {n["Name"]: n for n in sd.list_namespaces()["Namespaces"]}
    assert set(ns) == {"shop.local", "edge.internal"}
    described = ecs.describe_services(cluster="prod-ec2", services=["web", "api", "worker"])
    connect = {
        s["serviceName"]: s["deployments"][0]["serviceConnectConfiguration"]
        for s in described["services"]
    }
    assert {c["namespace"] for c in connect.values()} == {ns["shop.local"]["Arn"]}
    assert [o["discoveryName"] for o in connect["web"]["services"]] == ["web"]
    assert [o["discoveryName"] for o in connect["api"]["services"]] == ["api"]
    assert "services" not in connect["worker"]
    assert {s["launchType"] for s in described["services"]} == {"EC2"}
    shop = sd.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["shop.local"]["Id"]]}])[
        "Services"
    ]
    by_name = {s["Name"]: s["Id"] for s in shop}
    api = sd.list_instances(ServiceId=by_name["api"])["Instances"]
    web = sd.list_instances(ServiceId=by_name["web"])["Instances"]
    assert len(api) == 2 and len(web) >= 3
    assert {i["Attributes"]["ECS_SERVICE_NAME"] for i in web} == {"web"}
    health = sd.get_instances_health_status(ServiceId=by_name["api"])["Status"]
    assert sorted(health.values()) == ["HEALTHY", "UNHEALTHY"]
    [metrics] = ecs.describe_services(cluster="onprem-edge", services=["metrics"])["services"]
    assert metrics["launchType"] == "EXTERNAL"
    [registry] = metrics["serviceRegistries"]
    edge = sd.list_services(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["edge.internal"]["Id"]]}]
    )["Services"]
    [cm] = [s for s in edge if s["Arn"] == registry["registryArn"]]
    assert cm["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    td = ecs.describe_task_definition(taskDefinition=metrics["taskDefinition"])
    assert td["taskDefinition"]["networkMode"] == "bridge"
