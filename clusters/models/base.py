from __future__ import annotations

from django.db import models
from django.utils import timezone


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
