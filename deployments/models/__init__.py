from .drift import DriftFinding, DriftKind, DriftSeverity
from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition
from .redeploy import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Redeploy,
    RedeployBatch,
    RedeployStatus,
)
from .samples import ServiceSample

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Deployment",
    "DriftFinding",
    "DriftKind",
    "DriftSeverity",
    "Redeploy",
    "RedeployBatch",
    "RedeployStatus",
    "Service",
    "ServiceSample",
    "Task",
    "TaskContainer",
    "TaskDefinition",
]
