"""Receivers connecting drift to the Docker side (see DeploymentsConfig.ready)."""

from __future__ import annotations

import logging
from typing import Any

from django.template.loader import render_to_string

from .drift import drift_evaluate, drift_findings

log = logging.getLogger(__name__)


def on_docker_host_synced(sender: Any, host: Any, result: Any, **_: Any) -> None:
    """A fresh listing (or a failed contact) can open or resolve findings."""
    try:
        drift_evaluate()
    except Exception:  # drift must never fail a sync
        log.exception("drift evaluation after the sync of %s failed", host)


def host_page_panel(sender: Any, host: Any, request: Any, **_: Any) -> str:
    return render_to_string(
        "deployments/_drift_findings.html",
        {
            "findings": drift_findings(host=host, include_resolved=True, limit=30),
            "title": "Drift between ECS and this host",
        },
        request=request,
    )
