"""What the dashboard page shows: the summary and the attention list, computed from
one snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from console.dashboard.extension_rules import ensure_extensions_loaded
from console.dashboard.rules import needs_attention
from console.dashboard.snapshot import (
    ERROR,
    INFO,
    WARNING,
    AttentionItem,
    FleetSummary,
    fleet_snapshot,
)
from console.dashboard.summary import dashboard_summary


@dataclass
class Dashboard:
    summary: FleetSummary
    attention: list[AttentionItem]

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
        summary=dashboard_summary(snapshot=snap), attention=needs_attention(snapshot=snap)
    )
