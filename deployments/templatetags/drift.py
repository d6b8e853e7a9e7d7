"""``{% drift_findings_panel %}``: the drift findings panel any page can embed
(dashboard, instance page, host page)."""

from __future__ import annotations

from typing import Any

from django import template

from clusters.models import ContainerInstance, DockerHost
from deployments.drift.evaluation import drift_findings

register = template.Library()


@register.inclusion_tag("deployments/_drift_findings.html")
def drift_findings_panel(
    host: DockerHost | None = None,
    instance: ContainerInstance | None = None,
    include_resolved: bool = False,
    title: str = "Drift between ECS and Docker",
) -> dict[str, Any]:
    return {
        "findings": drift_findings(host=host, instance=instance, include_resolved=include_resolved),
        "title": title,
        # the instance page also says which Docker host(s) it is
        "linked_hosts": list(instance.docker_hosts.all()) if instance is not None else [],
    }
