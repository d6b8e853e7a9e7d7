"""The health model: the one place that decides whether a service, cluster,
container instance, Docker host or account is healthy, degraded, failing, down,
unknown or inactive, and why (reasons with code, message, since and evidence).

- ``facts``: what the rules read, for a scope, in a fixed number of queries
- ``services``: the service rules (rollouts, running count, crash loops, placement)
- ``infrastructure``: instances, Docker hosts, clusters and accounts (with roll-ups)
- ``refresh``: ``health_refresh`` computes a scope and stores what changed; a
  change of a subject's own state is written to the timeline with its severity
- ``events``: the severity of an ECS service event, by the same rules

The verdict is stored on each row (``clusters.models.HealthFields``); pages, the
dashboard, alerts, the API and /metrics read the stored state and never judge
health themselves. The vocabulary (states, ranks, badges) is
``clusters.health``. A cluster sync refreshes its cluster at its end; the
beat refreshes the whole fleet every FLEETDECK_HEALTH_INTERVAL_SECONDS.
"""

from deployments.health.events import service_event_severity
from deployments.health.facts import stale_after
from deployments.health.infrastructure import AGENT_DISCONNECT_GRACE, host_unreachable_grace
from deployments.health.refresh import FLEET_EVALUATED_KEY, health_refresh

__all__ = [
    "AGENT_DISCONNECT_GRACE",
    "FLEET_EVALUATED_KEY",
    "health_refresh",
    "host_unreachable_grace",
    "service_event_severity",
    "stale_after",
]
