"""Receivers connecting drift to the Docker side (see DeploymentsConfig.ready)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string

from deployments.drift.evaluation import drift_findings

log = logging.getLogger(__name__)


def on_docker_host_synced(sender: Any, host: Any, result: Any, **_: Any) -> None:
    """A fresh listing (or a failed contact) can open or resolve findings: queue an
    evaluation (off the sync's own path; it is also scheduled every sync interval)."""
    from deployments.drift.tasks import evaluate_drift

    changed = result is None or not result.ok or result.recovered
    if not changed and not (result.created or result.updated or result.gone):
        return  # nothing changed on the Docker side; the schedule covers time-based rules

    def enqueue() -> None:
        try:
            evaluate_drift.delay()
        except Exception:  # a broker hiccup must never fail a sync; the schedule catches up
            log.warning("could not queue a drift evaluation after syncing %s", host, exc_info=True)

    transaction.on_commit(enqueue)


def host_page_panel(sender: Any, host: Any, request: Any, **_: Any) -> str:
    return render_to_string(
        "deployments/_drift_findings.html",
        {
            "findings": drift_findings(host=host, include_resolved=True, limit=30),
            "title": "Drift between ECS and this host",
        },
        request=request,
    )
