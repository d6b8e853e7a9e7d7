"""Reading the redeploy panel's numbers, and counting the same numbers straight
from the mirrored task rows, for the tests that compare them."""

from __future__ import annotations

import re
from typing import Any

from deployments.models import Task


def panel_counts(html: str) -> dict[str, int]:
    """The counts the panel carries on its bar (data-new-running="3", ...)."""
    bar = re.search(r'<div class="redeploy-bar" ([^>]*)>', html)
    assert bar, html
    return {k: int(v) for k, v in re.findall(r'data-([a-z-]+)="(\d+)"', bar.group(1))}


def counts_from_rows(service: Any, deployment_id: str, old_arns: set[str]) -> dict[str, int]:
    """The new deployment's tasks by state, and the tasks live before the redeploy
    (``old_arns``, read by the test before it started) by state."""
    new = Task.objects.filter(service=service, started_by=deployment_id)
    old = Task.objects.filter(arn__in=old_arns)
    return {
        "new-running": new.filter(last_status="RUNNING").count(),
        "new-pending": new.exclude(last_status__in=["RUNNING", "STOPPED"]).count(),
        "new-failed": new.filter(last_status="STOPPED").count(),
        "old-total": old.count(),
        "old-stopping": old.filter(desired_status="STOPPED").exclude(last_status="STOPPED").count(),
        "old-stopped": old.filter(last_status="STOPPED").count(),
    }
