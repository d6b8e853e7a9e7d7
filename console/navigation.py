"""The console's main navigation, in one list so every page shows the same menu."""

from __future__ import annotations

from dataclasses import dataclass

from clusters.core.roles import ADMIN, VIEWER


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    section: str
    role: str = VIEWER  # shown only to users holding it (a user with no role sees none)


NAVIGATION = (
    NavItem("Dashboard", "dashboard", "dashboard"),
    NavItem("Clusters", "deployments:clusters", "clusters"),
    NavItem("Instances", "deployments:instances", "instances"),
    NavItem("Services", "deployments:services", "services"),
    NavItem("Tasks", "deployments:tasks", "tasks"),
    NavItem("Registrations", "clusters:registrations", "registrations"),
    NavItem("Timeline", "timeline", "timeline"),
    NavItem("Cost", "cost:page", "cost"),
    NavItem("Docker hosts", "clusters:docker-hosts", "docker-hosts"),
    NavItem("Users", "users:list", "users", role=ADMIN),
)
