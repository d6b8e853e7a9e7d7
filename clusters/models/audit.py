from __future__ import annotations

from django.conf import settings
from django.db import models

from clusters.display import timestamp_text


class AuditEntry(models.Model):
    """Who did what, when, from where. Append-only: nothing in the UI edits it."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=2048, blank=True)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        # The role model's permissions hang off this model; data migration
        # clusters.0002_roles gives them to the viewer/operator/admin groups.
        permissions = [
            ("view_fleet", "Can view the fleet"),
            ("operate_fleet", "Can sync, redeploy, request registrations, act on containers"),
            ("administer_fleet", "Can approve registrations, admit instances, manage settings"),
        ]

    def __str__(self) -> str:
        return f"{timestamp_text(self.at)} {self.actor_name or 'system'} {self.action}"
