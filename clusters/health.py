"""The words of the health model: its states, how bad each is, and the shape of a
reason. What makes a subject healthy or not is decided in one place only,
``deployments.health``; everything else (badges, the dashboard, alerts, the
timeline's severity, the API, /metrics) reads the state it stored.

This module holds no rule: it is vocabulary shared by every layer (it imports
nothing of Fleetdeck, so ``clusters.models`` can use it without a cycle), so that
``clusters`` pages (Docker hosts) render the same badge as ``deployments`` ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict

from django.db import models


class HealthState(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    FAILING = "failing", "Failing"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"
    INACTIVE = "inactive", "Inactive"


# Worst first is the highest rank. Unknown ranks above healthy: "never synced" and
# "data too old" must never aggregate to green.
RANK: dict[str, int] = {
    HealthState.INACTIVE: 0,
    HealthState.HEALTHY: 1,
    HealthState.UNKNOWN: 2,
    HealthState.DEGRADED: 3,
    HealthState.FAILING: 4,
    HealthState.DOWN: 5,
}

# The timeline's and the dashboard's severity for a state (EventSeverity values).
SEVERITY: dict[str, str] = {
    HealthState.INACTIVE: "info",
    HealthState.HEALTHY: "info",
    HealthState.UNKNOWN: "warning",
    HealthState.DEGRADED: "warning",
    HealthState.FAILING: "error",
    HealthState.DOWN: "error",
}

# CSS class of the badge for a state (static/console.css).
BADGE: dict[str, str] = {
    HealthState.INACTIVE: "badge-muted",
    HealthState.HEALTHY: "badge-ok",
    HealthState.UNKNOWN: "badge-unknown",
    HealthState.DEGRADED: "badge-warning",
    HealthState.FAILING: "badge-error",
    HealthState.DOWN: "badge-down",
}

# Subject kinds, as written in ``data-subject="<kind>:<id>"`` and the API.
SUBJECT_KINDS = ("service", "cluster", "instance", "host", "account")


class Reason(TypedDict):
    """Why a subject is in its state: machine-readable, shown as is."""

    code: str
    state: str  # the state this reason alone would put the subject in
    message: str
    since: str | None  # ISO 8601; when it started, according to AWS/Docker when they say
    evidence: dict[str, Any]


def reason(code: str, state: str, message: str, since: datetime | None, **evidence: Any) -> Reason:
    return {
        "code": code,
        "state": str(state),
        "message": message,
        "since": since.isoformat() if since else None,
        "evidence": evidence,
    }


def worst(states: Iterable[str], default: str = HealthState.HEALTHY) -> str:
    found = list(states)
    return max(found, key=lambda s: RANK.get(s, 0)) if found else str(default)


def is_unhealthy(state: str) -> bool:
    """Anything an on-call engineer should look at (unknown included)."""
    return RANK.get(state, 0) >= RANK[HealthState.UNKNOWN]


def is_own(r: Reason) -> bool:
    """A reason about the subject itself: not a roll-up of its children ("3 services
    failing") and not inherited from its parent ("no successful sync")."""
    evidence = r.get("evidence") or {}
    return not evidence.get("rollup") and not evidence.get("via")


def own_reasons(reasons: Iterable[Reason]) -> list[Reason]:
    return [r for r in reasons if is_own(r)]
