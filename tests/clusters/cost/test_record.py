"""registrations_record on mirrored rows (no AWS): idempotent, one open interval per
instance, closed when gone or INACTIVE, reopened when the same ARN is listed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clusters.cost import registrations_record
from clusters.models import InstanceRegistration
from tests.console import fleet

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 3, 10, tzinfo=UTC)


def test_record_opens_notes_closes_and_reopens() -> None:
    c = fleet.cluster(name="edge")
    ci = fleet.instance(c, is_external=True, ec2_instance_id="mi-1")  # registeredAt unknown yet
    fleet.instance(c)  # EC2: never on the bill
    assert registrations_record(cluster=c, now=T0) == 1
    assert registrations_record(cluster=c, now=T0 + timedelta(minutes=1)) == 0  # idempotent
    reg = InstanceRegistration.objects.get()
    # Unchanged: not rewritten (last_seen_at is when the mirror last saw a change).
    assert reg.registered_at == ci.first_seen_at and reg.last_seen_at == T0
    # The mirror learns registeredAt and the status: the interval follows.
    ci.registered_at, ci.status = T0 - timedelta(days=3), "DRAINING"
    ci.save()
    registrations_record(cluster=c, now=T0 + timedelta(minutes=2))
    reg.refresh_from_db()
    assert (reg.registered_at, reg.last_status) == (T0 - timedelta(days=3), "DRAINING")
    assert reg.last_seen_at == T0 + timedelta(minutes=2)  # when it saw the change
    # No longer listed: closed when the mirror marked it gone.
    ci.gone_at = T0 + timedelta(hours=1)
    ci.save()
    assert registrations_record(cluster=c, now=T0 + timedelta(hours=2)) == 1
    reg.refresh_from_db()
    assert reg.deregistered_at == T0 + timedelta(hours=1) and reg.closed_by == "mirror"
    # Listed again under the same ARN: it never left; the same interval reopens.
    ci.gone_at = None
    ci.save()
    registrations_record(cluster=c, now=T0 + timedelta(hours=3))
    assert InstanceRegistration.objects.count() == 1
    reg.refresh_from_db()
    assert reg.deregistered_at is None and reg.closed_by == ""
    # INACTIVE (described, deregistered) closes at the sync that saw it.
    ci.status = "INACTIVE"
    ci.save()
    registrations_record(cluster=c, now=T0 + timedelta(hours=4))
    reg.refresh_from_db()
    assert reg.deregistered_at == T0 + timedelta(hours=4)
