"""Polling becomes reconciliation: with a healthy stream the periodic fan-out leaves
the account alone until FLEETDECK_RECONCILE_SECONDS have passed since its clusters'
last sync; an unhealthy or missing stream falls back to polling by itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from clusters.models import AwsAccount, Cluster, EventStream
from clusters.stream.selectors import account_modes
from deployments.reconcile import accounts_discover_clusters

pytestmark = pytest.mark.django_db


def _healthy(stream: EventStream, **changes: Any) -> None:
    values = {"last_poll_at": timezone.now(), "last_poll_ok": True, "dlq_depth": 0}
    EventStream.objects.filter(pk=stream.pk).update(**{**values, **changes})


def test_without_a_stream_every_fan_out_polls(streamed: AwsAccount, sandbox: Any) -> None:
    EventStream.objects.all().delete()
    assert account_modes()[streamed.pk].mode == "polling"
    sandbox.client.reset_request_counts()
    assert accounts_discover_clusters()
    assert sandbox.client.request_counts().get("ecs:ListClusters") == 1


def test_a_healthy_stream_reconciles_every_reconcile_seconds(
    streamed: AwsAccount, sandbox: Any, settings: Any
) -> None:
    settings.FLEETDECK_RECONCILE_SECONDS = 300
    stream = EventStream.objects.get()
    assert account_modes()[streamed.pk].mode == "polling", "no follower has polled yet"
    _healthy(stream)
    assert account_modes()[streamed.pk].mode == "stream"
    sandbox.client.reset_request_counts()
    assert accounts_discover_clusters() == []
    assert sandbox.client.request_counts() == {}, "no AWS call between reconciles"
    Cluster.objects.update(last_sync_at=timezone.now() - timedelta(seconds=301))
    assert accounts_discover_clusters(), "the reconcile is due"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"last_poll_at": timezone.now() - timedelta(minutes=10)}, "not polling"),
        ({"last_poll_ok": False, "last_poll_error": "AccessDenied"}, "AccessDenied"),
        ({"dlq_depth": 2}, "dead-letter"),
        ({"oldest_message_age_seconds": 600.0}, "lag"),
    ],
)
def test_an_unhealthy_stream_falls_back_to_polling(
    streamed: AwsAccount, changes: dict[str, Any], reason: str
) -> None:
    _healthy(EventStream.objects.get(), **changes)
    mode = account_modes()[streamed.pk]
    assert mode.mode == "polling" and reason in mode.reason
    assert accounts_discover_clusters(), "polling: the fan-out syncs the account"
