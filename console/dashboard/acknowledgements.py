"""Acknowledgements: which attention items an operator has acknowledged, and the
firing an acknowledgement belongs to."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from console.dashboard.snapshot import AttentionItem
from console.models import Acknowledgement, AlertState


def acknowledgements_attach(items: list[AttentionItem]) -> None:
    """One query: the newest acknowledgement per fingerprint. It holds while the
    item's state is the one acknowledged and the item has not re-fired since (the
    alert evaluator's ``fire_seq``, read in the same query)."""
    if not items:
        return
    wanted = {i.fingerprint for i in items}
    newest: dict[str, Acknowledgement] = {}
    current_seq = AlertState.objects.filter(fingerprint=OuterRef("fingerprint")).values("fire_seq")[
        :1
    ]
    for ack in (
        # Acknowledgements within the retention period, matched here: an IN list
        # of hundreds of fingerprints costs more to build than these rows to read.
        Acknowledgement.objects.filter(created_at__gte=timezone.now() - _ack_window())
        .annotate(current_seq=Subquery(current_seq))
        .order_by("-created_at", "-id")
    ):
        if ack.fingerprint in wanted:
            newest.setdefault(ack.fingerprint, ack)
    for item in items:
        found = newest.get(item.fingerprint)
        if found is None or found.state != item.state:
            continue
        seq = getattr(found, "current_seq", None)
        if seq is None or found.fire_seq is None or seq == found.fire_seq:
            item.acknowledgement = found


def _ack_window() -> timedelta:
    return timedelta(days=settings.FLEETDECK_RETENTION_DAYS)


def acknowledgement_fire_seq(fingerprint: str) -> int:
    """The firing an acknowledgement made now belongs to: the current one, or the
    next one the evaluator will record if it has not seen this item firing yet."""
    state = AlertState.objects.filter(fingerprint=fingerprint).first()
    if state is None:
        return 1
    return state.fire_seq if state.firing else state.fire_seq + 1
