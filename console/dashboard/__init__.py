"""Selectors for the on-call dashboard: the fleet summary and "needs attention".

Everything here reads a fixed number of SQL queries whatever the fleet size:
one ``FleetSnapshot`` is loaded with a handful of flat ``values()`` queries (and
aggregates), then the summary and every attention rule are computed from it in
Python. Rules for models that come from other capabilities (drift findings,
Docker hosts, registrations) are registered in ``EXTENSION_RULES`` and each costs
one query.

- ``snapshot``: ``fleet_snapshot`` (the queries) and the data classes
- ``summary``: counts of the stored health per cluster, ``dashboard_summary``
- ``rules``: ``rule_health`` (one row per unhealthy subject) and ``needs_attention``
- ``extension_rules``: rules over registrations and drift, with their loaders
- ``acknowledgements``: which items are acknowledged, and for which firing
- ``links``: detail and timeline links of the items
- ``page``: ``Dashboard`` / ``dashboard_data``, what the page shows

The names below are re-exported so callers import them from ``console.dashboard``.
"""

from console.dashboard.acknowledgements import acknowledgement_fire_seq, acknowledgements_attach
from console.dashboard.extension_rules import (
    ACTIVATION_EXPIRY_WINDOW,
    EXTENSION_RULES,
    _drift_model,
    ensure_extensions_loaded,
    rule_drift,
    rule_registrations,
)
from console.dashboard.links import detail_url, timeline_url
from console.dashboard.page import Dashboard, dashboard_data
from console.dashboard.rules import (
    CORE_RULES,
    Links,
    needs_attention,
    rule_health,
)
from console.dashboard.snapshot import (
    ERROR,
    INFO,
    WARNING,
    AttentionItem,
    ClusterFields,
    ClusterSummary,
    FleetSnapshot,
    FleetSummary,
    Rule,
    SummaryGroup,
    fleet_snapshot,
)
from console.dashboard.summary import dashboard_summary

__all__ = [
    "ACTIVATION_EXPIRY_WINDOW",
    "CORE_RULES",
    "ERROR",
    "EXTENSION_RULES",
    "INFO",
    "WARNING",
    "AttentionItem",
    "ClusterFields",
    "ClusterSummary",
    "Dashboard",
    "FleetSnapshot",
    "FleetSummary",
    "Links",
    "Rule",
    "SummaryGroup",
    "_drift_model",  # console/metrics.py reads the drift model through it
    "acknowledgement_fire_seq",
    "acknowledgements_attach",
    "dashboard_data",
    "dashboard_summary",
    "detail_url",
    "ensure_extensions_loaded",
    "fleet_snapshot",
    "needs_attention",
    "rule_drift",
    "rule_health",
    "rule_registrations",
    "timeline_url",
]
