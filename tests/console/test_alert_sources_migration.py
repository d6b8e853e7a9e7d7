"""Channels filtered by the sources the health model replaced keep firing: the
data migration renames them to the subject kinds (console 0002)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.apps import apps

from console.models import NotificationChannel

pytestmark = pytest.mark.django_db


def test_old_sources_become_subject_kinds() -> None:
    migration: Any = import_module("console.migrations.0002_alert_sources_health")
    old = NotificationChannel.objects.create(
        name="old",
        kind="webhook",
        target="https://example.invalid/hook",
        sources=["deployment", "task", "sync", "drift"],
    )
    untouched = NotificationChannel.objects.create(
        name="all", kind="webhook", target="https://example.invalid/hook", sources=[]
    )
    migration.forwards(apps, None)
    old.refresh_from_db()
    untouched.refresh_from_db()
    assert old.sources == ["service", "cluster", "account", "drift"]
    assert untouched.sources == []
    assert old.matches(severity="error", source="service", cluster_arn="")
