from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from clusters.models import AuditEntry, Event


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is append-only: the admin can read it, nobody can edit it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "action", "object_type", "remote_addr")
    list_filter = ("action",)
    search_fields = ("actor_name", "message", "object_id")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "source", "severity", "message")
    list_filter = ("source", "severity")
    search_fields = ("message",)
