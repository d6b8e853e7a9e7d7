"""The timeline's severity of an ECS service event, judged by the health rules'
own words: a placement failure or a failed deployment puts a service in
"failing", so its event is an error, as the dashboard shows it."""

from __future__ import annotations

from clusters.health import SEVERITY, HealthState
from deployments.health.facts import PLACEMENT_FAILED

# (words in the event, the state they put the service in): first match wins.
SERVICE_EVENT_STATES = (
    (PLACEMENT_FAILED, HealthState.FAILING),
    ("deployment failed", HealthState.FAILING),
    ("circuit breaker", HealthState.FAILING),
    ("rolling back", HealthState.FAILING),
    ("unable to", HealthState.DEGRADED),
    ("failed", HealthState.DEGRADED),
    ("unhealthy", HealthState.DEGRADED),
)


def service_event_severity(message: str) -> str:
    text = message.lower()
    for words, state in SERVICE_EVENT_STATES:
        if words in text:
            return SEVERITY[state]
    return SEVERITY[HealthState.HEALTHY]
