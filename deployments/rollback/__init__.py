"""Rollbacks: put a service back on the last revision that completed.

A rollback is a ``Redeploy`` of kind ``rollback`` (with its target task definition
and method), so it rides the redeploy machinery: the same idempotent request, the
outbox, the worker's one AWS call, tracking through the mirror, the sweep, the
live progress panel and the outcome on the timeline ("rolled back"). This package
holds only what is a rollback's own: choosing the target, choosing the method
(``rollback_method``: the seam for StopServiceDeployment), refusing, the confirm
step and its start. ``manage.py rollback_service`` uses the same functions.
"""

from deployments.rollback.start import (
    STOP_DEPLOYMENT_AVAILABLE,
    RollbackPlan,
    RollbackRefused,
    rollback_method,
    rollback_plan,
    service_rollback,
)

__all__ = [
    "STOP_DEPLOYMENT_AVAILABLE",
    "RollbackPlan",
    "RollbackRefused",
    "rollback_method",
    "rollback_plan",
    "service_rollback",
]
