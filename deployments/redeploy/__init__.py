"""Forced redeploys (and the rollbacks ``deployments.rollback`` requests): request
(with idempotency and a mid-rollout warning), execute (UpdateService
forceNewDeployment, or a rollback's taskDefinition), follow the rollout through the mirror until
it is terminal, and run batches with a concurrency limit.

Every step is idempotent: state moves with conditional UPDATEs, timeline events
carry dedupe keys, so a task that runs twice changes nothing the second time.

One module per job: ``start`` (plan, request, retry, batches, dispatch),
``rollout`` (the AWS call and following it) and ``sweep`` (recovery). Callers use
this package's names (``from deployments.redeploy import service_force_redeploy``).
"""

from deployments.redeploy.rollout import redeploy_execute, redeploy_refresh
from deployments.redeploy.selectors import RedeployProgress, redeploy_progress
from deployments.redeploy.start import (
    IDEMPOTENCY_WINDOW,
    STALE_DISPATCH,
    BatchResult,
    RedeployPlan,
    RedeployRefused,
    RedeployResult,
    redeploy_batch_advance,
    redeploy_batch_start,
    redeploy_create,
    redeploy_dispatch,
    redeploy_existing,
    redeploy_not_sent,
    redeploy_plan,
    redeploy_retry,
    service_force_redeploy,
    service_subjects,
)
from deployments.redeploy.sweep import STALE_REQUEST, STALE_TRACKING, SweepResult, redeploys_sweep

__all__ = [
    "IDEMPOTENCY_WINDOW",
    "STALE_DISPATCH",
    "STALE_REQUEST",
    "STALE_TRACKING",
    "BatchResult",
    "RedeployPlan",
    "RedeployProgress",
    "RedeployRefused",
    "RedeployResult",
    "SweepResult",
    "redeploy_batch_advance",
    "redeploy_batch_start",
    "redeploy_create",
    "redeploy_dispatch",
    "redeploy_execute",
    "redeploy_existing",
    "redeploy_not_sent",
    "redeploy_plan",
    "redeploy_progress",
    "redeploy_refresh",
    "redeploy_retry",
    "redeploys_sweep",
    "service_force_redeploy",
    "service_subjects",
]
