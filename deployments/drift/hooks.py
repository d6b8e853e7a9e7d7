"""Receivers connecting drift to the Docker side (see DeploymentsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from clusters.core.jobs import job_enqueue
from deployments.drift.evaluation import drift_findings


def on_docker_host_synced(sender: Any, host: Any, result: Any, **_: Any) -> None:
    """A fresh listing (or a failed contact) can open or resolve findings: queue an
    evaluation (off the sync's own path, through the outbox, so a broker outage never
    fails a sync; it is also scheduled every sync interval)."""
    changed = result is None or not result.ok or result.recovered
    if not changed and not (result.created or result.updated or result.gone):
        return  # nothing changed on the Docker side; the schedule covers time-based rules
    job_enqueue("deployments.drift.tasks.evaluate_drift")


def host_page_panel(sender: Any, host: Any, request: Any, **_: Any) -> str:
    return render_to_string(
        "deployments/_drift_findings.html",
        {
            "findings": drift_findings(host=host, include_resolved=True, limit=30),
            "title": "Drift between ECS and this host",
        },
        request=request,
    )
