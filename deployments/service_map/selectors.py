"""The service map of one cluster and namespace, read from the mirror in a fixed number
of queries: who offers which logical name, who is a client, how many healthy and
unhealthy Cloud Map instances stand behind each name, and what is flagged."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet

from clusters.models import Cluster
from deployments.models import CloudMapNamespace, CloudMapService, Service, Task
from deployments.service_map.flags import (
    external_discovery_unsupported,
    no_healthy_instance,
    srv_records_needed,
    uses_service_connect,
)


@dataclass
class MapName:
    """One logical name: a Service Connect discovery name, or a Cloud Map service that
    a service registry registers in (plain service discovery)."""

    key: str
    label: str
    kind: str  # "connect" | "discovery"
    endpoints: list[str] = field(default_factory=list)  # "dnsName:port" / record types
    providers: list[int] = field(default_factory=list)  # Service pks
    clients: list[int] = field(default_factory=list)
    healthy: int = 0
    unhealthy: int = 0
    flag: str | None = None
    # (pk, name) of the providers and clients, for the page's table.
    provider_links: list[tuple[int, str]] = field(default_factory=list)
    client_links: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class MapService:
    service: Service
    is_client: bool = False
    is_provider: bool = False
    flags: list[str] = field(default_factory=list)


@dataclass
class ServiceMap:
    cluster: Cluster
    namespace_key: str  # the Cloud Map namespace id, or the raw reference if unmirrored
    namespace_label: str
    namespaces: list[tuple[str, str]]  # (key, label) of every namespace the cluster uses
    names: list[MapName]
    services: dict[int, MapService]

    @property
    def flags(self) -> list[tuple[str, str]]:
        out = [(s.service.name, f) for s in self.services.values() for f in s.flags]
        return out + [(n.label, n.flag) for n in self.names if n.flag]


@dataclass
class _Catalog:
    by_ref: dict[str, CloudMapNamespace]  # by id, ARN and name
    by_arn: dict[str, CloudMapService]  # Cloud Map services by ARN
    by_ns_name: dict[tuple[int, str], CloudMapService]
    counts: dict[int, tuple[int, int]]  # Cloud Map service pk -> (healthy, unhealthy)


def with_instance_counts(qs: QuerySet[CloudMapService]) -> QuerySet[CloudMapService]:
    """Cloud Map services with ``healthy`` / ``unhealthy`` live instance counts."""
    live = Q(instances__gone_at__isnull=True)
    return qs.select_related("namespace").annotate(
        healthy=Count("instances", filter=live & Q(instances__health="HEALTHY")),
        unhealthy=Count("instances", filter=live & ~Q(instances__health="HEALTHY")),
    )


def _catalog(cluster: Cluster) -> _Catalog:
    namespaces = list(
        CloudMapNamespace.objects.filter(
            account_id=cluster.account_id, region=cluster.region, gone_at__isnull=True
        )
    )
    by_ref: dict[str, CloudMapNamespace] = {}
    for ns in namespaces:
        by_ref.update({ns.namespace_id: ns, ns.arn: ns, ns.name: ns})
    services = with_instance_counts(
        CloudMapService.objects.filter(namespace__in=namespaces, gone_at__isnull=True)
    )
    cat = _Catalog(by_ref=by_ref, by_arn={}, by_ns_name={}, counts={})
    for cm in services:
        cat.by_arn[cm.arn] = cm
        cat.by_ns_name[(cm.namespace_id, cm.name)] = cm
        cat.counts[cm.pk] = (cm.healthy, cm.unhealthy)  # type: ignore[attr-defined]
    return cat


def _namespace_refs(svc: Service, cluster: Cluster, cat: _Catalog) -> list[tuple[str, str]]:
    """(key, label) of each namespace the service takes part in."""
    refs: list[tuple[str, str]] = []
    if uses_service_connect(svc):
        connect = svc.service_connect_configuration
        ref = str(connect.get("namespace") or cluster.service_connect_defaults.get("namespace"))
        ns = cat.by_ref.get(ref)
        refs.append((ns.namespace_id, ns.name) if ns else (ref, ref.rsplit("/", 1)[-1]))
    for registry in svc.service_registries:
        cm = cat.by_arn.get(str(registry.get("registryArn") or ""))
        if cm is not None:
            ns = cm.namespace
            refs.append((ns.namespace_id, ns.name))
    return refs


def cluster_namespaces(cluster: Cluster) -> list[tuple[str, str]]:
    """The namespaces the cluster's live services use, for the page's picker."""
    cat = _catalog(cluster)
    seen: dict[str, str] = {}
    for svc in Service.objects.filter(cluster=cluster, gone_at__isnull=True):
        seen.update(_namespace_refs(svc, cluster, cat))
    return sorted(seen.items(), key=lambda kv: kv[1])


def _on_external(cluster: Cluster) -> set[int]:
    return set(
        Task.objects.filter(
            cluster=cluster, gone_at__isnull=True, container_instance__is_external=True
        )
        .exclude(service=None)
        .values_list("service_id", flat=True)
    )


def service_map(*, cluster: Cluster, namespace: str = "") -> ServiceMap:
    """The map of ``namespace`` (a key from ``cluster_namespaces``; the first when
    empty or unknown)."""
    cat = _catalog(cluster)
    services = list(
        Service.objects.filter(cluster=cluster, gone_at__isnull=True).select_related(
            "task_definition"
        )
    )
    refs = {svc.pk: _namespace_refs(svc, cluster, cat) for svc in services}
    namespaces = sorted({r for rs in refs.values() for r in rs}, key=lambda kv: kv[1])
    keys = [k for k, _ in namespaces]
    key = namespace if namespace in keys else (keys[0] if keys else "")
    label = dict(namespaces).get(key, "")
    members = [s for s in services if any(k == key for k, _ in refs[s.pk])]
    external = _on_external(cluster)
    out = ServiceMap(cluster, key, label, namespaces, [], {})
    for svc in members:
        entry = out.services[svc.pk] = MapService(svc)
        flag = external_discovery_unsupported(
            svc, on_external=svc.launch_type == "EXTERNAL" or svc.pk in external
        )
        entry.flags += [flag] if flag else []
        _connect_names(out, entry, cat)
        _registry_names(out, entry, cat)
    clients = [pk for pk, s in out.services.items() if s.is_client]
    for name in out.names:
        if name.kind == "connect":
            name.clients = [pk for pk in clients if pk not in name.providers]
        name.flag = no_healthy_instance(name.label, name.healthy, name.unhealthy)
        name.provider_links = [(pk, out.services[pk].service.name) for pk in name.providers]
        name.client_links = [(pk, out.services[pk].service.name) for pk in name.clients]
    out.names.sort(key=lambda n: n.label)
    return out


def _name(out: ServiceMap, key: str, label: str, kind: str) -> MapName:
    for n in out.names:
        if n.key == key:
            return n
    out.names.append(MapName(key=key, label=label, kind=kind))
    return out.names[-1]


def _connect_names(out: ServiceMap, entry: MapService, cat: _Catalog) -> None:
    svc = entry.service
    if not uses_service_connect(svc):
        return
    entry.is_client = True  # every Service Connect service of the namespace is a client
    ns = cat.by_ref.get(out.namespace_key)
    for offer in svc.service_connect_configuration.get("services") or []:
        discovery = str(offer.get("discoveryName") or offer.get("portName") or "")
        name = _name(out, f"connect:{discovery}", discovery, "connect")
        entry.is_provider = True
        name.providers.append(svc.pk)
        for alias in offer.get("clientAliases") or []:
            name.endpoints.append(f"{alias.get('dnsName') or discovery}:{alias.get('port')}")
        cm = cat.by_ns_name.get((ns.pk, discovery)) if ns else None
        if cm is not None:
            name.healthy, name.unhealthy = cat.counts[cm.pk]


def _registry_names(out: ServiceMap, entry: MapService, cat: _Catalog) -> None:
    svc = entry.service
    cms = [cat.by_arn[a] for a in _registry_arns(svc) if a in cat.by_arn]
    mode = svc.task_definition.network_mode if svc.task_definition else ""
    entry.flags += srv_records_needed(svc, cms, mode)
    for cm in cms:
        if cm.namespace.namespace_id != out.namespace_key:
            continue
        name = _name(
            out, f"discovery:{cm.service_id}", f"{cm.name}.{cm.namespace.name}", "discovery"
        )
        name.endpoints = [f"DNS {'/'.join(cm.record_types) or 'API only'}"]
        name.providers.append(svc.pk)
        name.healthy, name.unhealthy = cat.counts[cm.pk]
        entry.is_provider = True


def _registry_arns(svc: Service) -> list[str]:
    return [str(r.get("registryArn") or "") for r in svc.service_registries]
