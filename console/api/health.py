"""The ``health`` field every subject of the API carries: the stored verdict of the
health model (deployments/health), the one every badge, the dashboard and /metrics
show."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from clusters.health import HealthState


class ReasonSerializer(serializers.Serializer[dict[str, Any]]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. rollout-failed.")
    state = serializers.CharField(help_text="The state this reason alone puts the subject in.")
    message = serializers.CharField()
    since = serializers.DateTimeField(
        allow_null=True, help_text="When it started, per AWS/Docker where they say so."
    )
    evidence = serializers.DictField(help_text="The facts the reason rests on.")


class HealthSerializer(serializers.Serializer[Any]):
    """The stored verdict of the health model (deployments/health), the same one every
    page's badge, the dashboard and /metrics show."""

    state = serializers.ChoiceField(choices=HealthState.choices, source="health_state")
    reasons = ReasonSerializer(many=True, source="health_reasons")
    since = serializers.DateTimeField(source="health_since", allow_null=True)
    updated_at = serializers.DateTimeField(source="health_updated_at", allow_null=True)
