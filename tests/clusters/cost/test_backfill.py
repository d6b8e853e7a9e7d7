"""The data migration (clusters 0007) gives each external instance already mirrored
one interval: from registeredAt (or first seen) to gone/INACTIVE, open otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps

from clusters.models import InstanceRegistration
from tests.console import fleet

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 3, 10, tzinfo=UTC)
GONE = datetime(2026, 11, 20, tzinfo=UTC)


def test_backfill_from_mirrored_instances() -> None:
    migration: Any = import_module("clusters.migrations.0007_instance_registration")
    c = fleet.cluster(name="edge")
    live = fleet.instance(c, is_external=True, ec2_instance_id="mi-1", registered_at=AT)
    gone = fleet.instance(c, is_external=True, ec2_instance_id="mi-2", registered_at=AT)
    gone.gone_at = GONE
    gone.save()
    inactive = fleet.instance(c, is_external=True, ec2_instance_id="mi-3", status="INACTIVE")
    fleet.instance(c)  # an EC2 instance: not billed by ECS Anywhere
    migration.backfill(apps, None)
    by = {r.instance_id: r for r in InstanceRegistration.objects.all()}
    assert set(by) == {live.pk, gone.pk, inactive.pk}
    assert by[live.pk].registered_at == AT and by[live.pk].deregistered_at is None
    assert by[gone.pk].deregistered_at == GONE and by[gone.pk].closed_by == "mirror"
    assert by[inactive.pk].registered_at == inactive.first_seen_at  # no registeredAt
    assert by[inactive.pk].deregistered_at == inactive.last_seen_at
    assert {r.region for r in by.values()} == {"us-east-1"}
