"""The console's main navigation, in one list so every page shows the same menu."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str


NAVIGATION = (
    NavItem("Dashboard", "dashboard", "dashboard"),
    NavItem("Clusters", "deployments:clusters", "clusters"),
    NavItem("Instances", "deployments:instances", "instances"),
    NavItem("Services", "deployments:services", "services"),
    NavItem("Tasks", "deployments:tasks", "tasks"),
    NavItem("Registrations", "clusters:registrations", "registrations"),
    NavItem("Timeline", "timeline", "timeline"),
    NavItem("Docker hosts", "clusters:docker-hosts", "docker-hosts"),
)
