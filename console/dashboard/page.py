"""What the dashboard page shows: the summary and the attention list, computed from
one snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from clusters.models import EventStream
from clusters.stream.status import account_mode
from console.dashboard.extension_rules import ensure_extensions_loaded
from console.dashboard.rules import needs_attention
from console.dashboard.snapshot import (
    ERROR,
    INFO,
    WARNING,
    AttentionItem,
    FleetSnapshot,
    FleetSummary,
    fleet_snapshot,
)
from console.dashboard.summary import dashboard_summary


@dataclass
class Dashboard:
    summary: FleetSummary
    attention: list[AttentionItem]
    # (account, "stream" | "polling", why) of every enabled account (docs/event-stream.md)
    sync_modes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def open_items(self) -> list[AttentionItem]:
        return [i for i in self.attention if not i.acknowledged]

    @property
    def counts(self) -> dict[str, int]:
        out = {ERROR: 0, WARNING: 0, INFO: 0}
        for item in self.open_items:
            out[item.severity] = out.get(item.severity, 0) + 1
        return out


def dashboard_data(*, now: datetime | None = None) -> Dashboard:
    snap = fleet_snapshot(now=now)
    ensure_extensions_loaded(snap)
    return Dashboard(
        summary=dashboard_summary(snapshot=snap),
        attention=needs_attention(snapshot=snap),
        sync_modes=_sync_modes(snap),
    )


def _sync_modes(snap: FleetSnapshot) -> list[tuple[str, str, str]]:
    """Each enabled account's sync mode, from the snapshot's accounts (one query)."""
    streams = list(EventStream.objects.all())
    out = []
    for account in snap.accounts:
        if account.enabled:
            mode = account_mode(account, [s for s in streams if s.account_id == account.pk])
            out.append((account.name, mode.mode, mode.reason))
    return out
