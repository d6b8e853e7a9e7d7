"""Cloud Map (``servicediscovery``) adapter: namespaces, services, registered
instances and their health, as plain dataclasses.

What Service Connect and ECS service discovery register tasks in. Read only, at the API
minimum: one paginated ListNamespaces and one ListServices per namespace (the
catalogue changes rarely; the caller lists it on a slow schedule), then per Cloud Map
service of a namespace in use one ListInstances and, only when the service has a health
check, one GetInstancesHealthStatus (Cloud Map counts an instance of a service without
a health check as healthy, as DiscoverInstances does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clusters.aws.errors import translate
from clusters.aws.session import aws_client

PAGE = 100  # ListNamespaces / ListServices / ListInstances / GetInstancesHealthStatus max


@dataclass(frozen=True)
class NamespaceInfo:
    namespace_id: str  # ns-…
    arn: str
    name: str
    type: str  # HTTP | DNS_PRIVATE | DNS_PUBLIC
    created_at: datetime | None


@dataclass(frozen=True)
class CloudMapServiceInfo:
    service_id: str  # srv-…
    arn: str
    name: str
    namespace_id: str
    # [{"Type": "A"|"AAAA"|"SRV"|"CNAME", "TTL": 10}] (empty for HTTP namespaces)
    dns_records: list[dict[str, Any]] = field(default_factory=list)
    has_health_check: bool = False


@dataclass(frozen=True)
class CloudMapInstanceInfo:
    instance_id: str
    # AWS_INSTANCE_IPV4, AWS_INSTANCE_PORT, ECS_SERVICE_NAME, ECS_CLUSTER_NAME, …
    attributes: dict[str, str]
    health: str  # HEALTHY | UNHEALTHY | UNKNOWN


def _client(account: Any, region: str) -> Any:
    return aws_client(account=account, region=region, service="servicediscovery", fresh=True)


def _pages(call: Any, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every page of a NextToken listing; a failure raises (never a partial list)."""
    found: list[dict[str, Any]] = []
    try:
        while True:
            out = call(**params)
            found.extend(out.get(key) or [])
            token = out.get("NextToken")
            if not token:
                return found
            params["NextToken"] = token
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc) from None


def _service(s: dict[str, Any], namespace_id: str) -> CloudMapServiceInfo:
    return CloudMapServiceInfo(
        service_id=s["Id"],
        arn=s.get("Arn") or "",
        name=s.get("Name") or "",
        namespace_id=namespace_id,
        dns_records=list((s.get("DnsConfig") or {}).get("DnsRecords") or []),
        has_health_check=bool(s.get("HealthCheckConfig") or s.get("HealthCheckCustomConfig")),
    )


def cloudmap_catalog_list(
    *, account: Any, region: str
) -> tuple[list[NamespaceInfo], list[CloudMapServiceInfo]]:
    """Every namespace of the region, and each one's services: ListServices summaries
    carry no namespace id, so it is called once per namespace with the NAMESPACE_ID
    filter (EQ takes one id)."""
    client = _client(account, region)
    namespaces = [
        NamespaceInfo(
            namespace_id=n["Id"],
            arn=n.get("Arn") or "",
            name=n.get("Name") or "",
            type=n.get("Type") or "",
            created_at=n.get("CreateDate"),
        )
        for n in _pages(client.list_namespaces, "Namespaces", MaxResults=PAGE)
    ]
    services = [
        _service(s, ns.namespace_id)
        for ns in namespaces
        for s in _pages(
            client.list_services,
            "Services",
            MaxResults=PAGE,
            Filters=[{"Name": "NAMESPACE_ID", "Values": [ns.namespace_id], "Condition": "EQ"}],
        )
    ]
    return namespaces, services


def cloudmap_instances_list(
    *, account: Any, region: str, service: CloudMapServiceInfo
) -> list[CloudMapInstanceInfo]:
    """The instances registered in one Cloud Map service, with their health."""
    client = _client(account, region)
    raw = _pages(client.list_instances, "Instances", ServiceId=service.service_id, MaxResults=PAGE)
    health: dict[str, str] = {}
    if raw and service.has_health_check:
        try:
            params: dict[str, Any] = {"ServiceId": service.service_id, "MaxResults": PAGE}
            while True:
                out = client.get_instances_health_status(**params)
                health.update(out.get("Status") or {})
                if not out.get("NextToken"):
                    break
                params["NextToken"] = out["NextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc) from None
    default = "UNKNOWN" if service.has_health_check else "HEALTHY"
    return [
        CloudMapInstanceInfo(
            instance_id=i["Id"],
            attributes=dict(i.get("Attributes") or {}),
            health=str(health.get(i["Id"], default)),
        )
        for i in raw
    ]
