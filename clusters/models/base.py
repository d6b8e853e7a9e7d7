from __future__ import annotations

from django.db import models
from django.utils import timezone

from clusters.health import HealthState


class MirroredModel(models.Model):
    """A row that mirrors an object another system owns (AWS, a Docker host).

    The mirror never deletes: when the owner stops reporting the object, after a
    complete and successful listing, ``gone_at`` is set and the row is kept as
    history.
    """

    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(default=timezone.now)
    gone_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True

    @property
    def is_gone(self) -> bool:
        return self.gone_at is not None


class HealthFields(models.Model):
    """The subject's health as ``deployments.health`` last computed it: the one
    answer every page, badge, alert, API field and metric reads. A row never
    computed is "unknown" with no reason, rendered "waiting for the first sync"."""

    health_state = models.CharField(
        max_length=16, choices=HealthState.choices, default=HealthState.UNKNOWN, db_index=True
    )
    # [{"code","state","message","since","evidence"}] (clusters.health.Reason)
    health_reasons = models.JSONField(default=list, blank=True)
    health_since = models.DateTimeField(null=True, blank=True)  # when this state began
    health_updated_at = models.DateTimeField(null=True, blank=True)  # last verdict change

    class Meta:
        abstract = True
